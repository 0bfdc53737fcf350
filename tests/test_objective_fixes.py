"""Issue 12's objective-level switches (geometry.reconstruct root_depth / invalid, consistency_distance "squared",
validity_penalty, chirality): defaults are the paper's eqs. 3 / 8 / 11 unchanged, the switches do what they claim."""
import math

import pytest
import torch

from helpers import random_pose, random_rotation, random_scene
from weakpose import geometry as G
from weakpose import losses as L
from weakpose import skeleton
from weakpose.camera import project


def _scale(P):
    return (P[:, skeleton.NECK] - P[:, skeleton.PELVIS]).norm(dim=-1)


def _z_rel(P):
    return (P[..., 2] - P[:, skeleton.PELVIS, None, 2]) / _scale(P)[:, None]


def _mean_bone_of(P):
    """Scale-normalised bone lengths of P (n, J, 3)."""
    return G.bone_vectors(P / _scale(P)[:, None, None]).norm(dim=-1)


def _one_body_scene(rng, n):
    """One body (so one set of scale-normalised bones) seen by n random cameras: P (n, J, 3) mm, K (n, 3, 3)."""
    _, K = random_scene(rng, n)
    body = random_pose(rng, 1).expand(n, -1, -1)
    P = body @ random_rotation(rng, n).transpose(-1, -2)
    P = P + torch.tensor([[0.0, 0.0, 0.0]]) + torch.tensor(
        [[rng.uniform(-500, 500), rng.uniform(-300, 300), rng.uniform(2500, 7000)] for _ in range(n)])[:, None]
    return P, K


# ---------------------------------------------------------------- defaults unchanged
def test_defaults_are_bitwise_the_literal_eq3(rng):
    P, K = random_scene(rng, 16)
    uv = project(P, K) + torch.tensor(rng.normal(size=(16, 17, 2)))
    zr = _z_rel(P) + 0.3 * torch.tensor(rng.normal(size=(16, 17)))
    a = G.reconstruct(uv, zr, K)
    b = G.reconstruct(uv, zr, K, root_depth="neck", invalid="mask", mean_bone=None)
    assert len(a) == 3 and len(b) == 3
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    # hinge changes nothing for valid views
    h = G.reconstruct(uv, zr, K, invalid="hinge")
    ok = a[2]
    assert ok.any()
    assert torch.equal(h[0][ok], a[0][ok]) and torch.equal(h[1][ok], a[1][ok]) and torch.equal(h[2], a[2])
    assert (h[3][ok] == 0).all()


def test_bad_switch_values_raise(rng):
    P, K = random_scene(rng, 2)
    uv, zr = project(P, K), _z_rel(P)
    with pytest.raises(ValueError):
        G.reconstruct(uv, zr, K, root_depth="head")
    with pytest.raises(ValueError):
        G.reconstruct(uv, zr, K, invalid="ignore")
    with pytest.raises(ValueError):
        G.reconstruct(uv, zr, K, root_depth="bones")          # needs mean_bone
    views = torch.zeros(1, 2, 17, 3, dtype=torch.float64)
    R, t = L.pair_transforms(views, torch.ones(1, 2, 17))
    with pytest.raises(ValueError):
        L.consistency_distance(views, torch.ones(1, 2, 17), R, t, distance="huber")


# ---------------------------------------------------------------- root_depth="bones"
@pytest.mark.parametrize("rescale", [True, False])
def test_bones_root_depth_round_trip(rng, rescale):
    """Exact 2D, exact z_rel, bones equal to the means: "bones" and "neck" both give the ground truth."""
    P, K = _one_body_scene(rng, 32)
    mu = _mean_bone_of(P)[0]
    uv, zr = project(P, K), _z_rel(P)
    s = _scale(P)
    for kw in (dict(), dict(root_depth="bones", mean_bone=mu, bone_rescale=rescale)):
        Phat, z_root, valid = G.reconstruct(uv, zr, K, **kw)
        assert valid.all()
        torch.testing.assert_close(Phat, P / s[:, None, None], atol=1e-7, rtol=0)
        torch.testing.assert_close(z_root, P[:, 0, 2] / s, atol=1e-6, rtol=0)


def test_bone_root_depth_hand_computed():
    """Two bones along x at unit depth with zero relative depth: ||Z a_e|| = mu_e, least squares in Z gives
    Z = sum |a_e| mu_e / sum |a_e|^2 exactly (the residual is linear in Z here)."""
    rays = torch.zeros(1, 17, 3, dtype=torch.float64)
    rays[..., 2] = 1.0
    # joint 1 (r_hip, child of pelvis) at x = 0.1, joint 4 (l_hip) at x = -0.3; all other joints on the axis
    rays[0, 1, 0], rays[0, 4, 0] = 0.1, -0.3
    zr = torch.zeros(1, 17, dtype=torch.float64)
    mu = torch.zeros(16, dtype=torch.float64)
    mu[0], mu[3] = 1.5, 2.5                                   # bones (1, 0) and (4, 0)
    # bones (2,1) and (5,4) have length |x| too (children on the axis): include them
    expect_num = 0.1 * 1.5 + 0.3 * 2.5 + 0.1 * mu[1] + 0.3 * mu[4]
    expect_den = 0.1 ** 2 + 0.3 ** 2 + 0.1 ** 2 + 0.3 ** 2
    Z = G.bone_root_depth(rays, zr, mu)
    torch.testing.assert_close(Z, torch.tensor([float(expect_num / expect_den)], dtype=torch.float64))


def test_bones_root_depth_less_sensitive_to_neck_noise(rng):
    """1 px on the neck moves eq. 3's Z by several percent; the all-bones fit moves it much less."""
    P, K = _one_body_scene(rng, 64)
    mu = _mean_bone_of(P)[0]
    uv, zr = project(P, K), _z_rel(P)
    d = torch.tensor(rng.normal(size=(64, 2)))
    noisy = uv.clone()
    noisy[:, skeleton.NECK] += d / d.norm(dim=-1, keepdim=True)          # exactly 1 px
    rel = {}
    for mode in ("neck", "bones"):
        kw = dict(root_depth=mode, mean_bone=mu, bone_rescale=False)
        Z0 = G.reconstruct(uv, zr, K, **kw)[1]
        Z1 = G.reconstruct(noisy, zr, K, **kw)[1]
        rel[mode] = ((Z1 - Z0) / Z0).abs().median().item()
    assert rel["neck"] > 1e-3
    assert rel["bones"] < rel["neck"] / 4


def test_bones_rescale_keeps_unit_neck_pelvis(rng):
    P, K = random_scene(rng, 8)
    mu = _mean_bone_of(P)[0] * 1.1                             # means that disagree with the body
    uv = project(P, K) + torch.tensor(rng.normal(size=(8, 17, 2)))
    Phat, z_root, valid = G.reconstruct(uv, _z_rel(P), K, root_depth="bones", mean_bone=mu)
    torch.testing.assert_close((Phat[:, skeleton.NECK] - Phat[:, skeleton.PELVIS]).norm(dim=-1),
                               torch.ones(8, dtype=torch.float64))
    torch.testing.assert_close(Phat[:, skeleton.PELVIS, 2], z_root)


def test_bones_gradcheck(rng):
    P, K = _one_body_scene(rng, 3)
    mu = _mean_bone_of(P)[0]
    uv = (project(P, K) + torch.tensor(rng.normal(size=(3, 17, 2)))).requires_grad_()
    zr = (_z_rel(P) + 0.1 * torch.tensor(rng.normal(size=(3, 17)))).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: G.reconstruct(a, b, K, root_depth="bones", mean_bone=mu)[0], (uv, zr))


def test_bones_solve_is_the_least_squares_minimum(rng):
    """With noisy inputs the returned Z is a stationary point of sum_e (||Z a_e + b_e|| - mu_e)^2."""
    P, K = random_scene(rng, 16)
    mu = _mean_bone_of(P)[0]
    uv = project(P, K) + 2 * torch.tensor(rng.normal(size=(16, 17, 2)))
    zr = _z_rel(P) + 0.2 * torch.tensor(rng.normal(size=(16, 17)))
    m = torch.cat([uv, torch.ones_like(uv[..., :1])], -1)
    rays = torch.linalg.solve(K.unsqueeze(1), m.unsqueeze(-1)).squeeze(-1)
    rays = rays / rays[..., 2:3]
    Z = G.bone_root_depth(rays, zr, mu, iters=8).detach().requires_grad_()
    f = ((G.bone_vectors((Z[:, None, None] + zr[..., None]) * rays).norm(dim=-1) - mu) ** 2).sum()
    (g,) = torch.autograd.grad(f, Z)
    assert g.abs().max() < 1e-8
    # and a few GN steps already reach it
    torch.testing.assert_close(G.bone_root_depth(rays, zr, mu, iters=4), Z.detach(), atol=0, rtol=1e-6)


# ---------------------------------------------------------------- invalid="hinge"
def _invalid_case(rng):
    P, K = random_scene(rng, 2)
    uv, zr = project(P, K), _z_rel(P)
    zr[0, skeleton.NECK] = 3.0                               # neck 3 torso lengths behind the pelvis: no real root
    return uv, zr, K


def test_hinge_penalty_hand_computed(rng):
    uv, zr, K = _invalid_case(rng)
    pts, z_root, valid, pen = G.reconstruct(uv, zr, K, invalid="hinge")
    assert valid.tolist() == [False, True]
    # penalty = (min_Z ||p_neck - p_pelvis||^2 - 1) + relu(1 - Z), the min reached at the returned Z
    s2 = ((pts[0, skeleton.NECK] - pts[0, skeleton.PELVIS]) ** 2).sum()
    torch.testing.assert_close(pen[0], s2 - 1 + torch.relu(1 - z_root[0]))
    # with a margin m the first part is relu(m - disc / aa) = s2 - 1 + m
    pen_m = G.reconstruct(uv, zr, K, invalid="hinge", hinge_margin=0.25)[3]
    torch.testing.assert_close(pen_m[0], pen[0] + 0.25)
    assert pen[0] > 0.5 and pen[1] == 0
    # brute force: no depth does better
    m = torch.cat([uv[0], torch.ones(17, 1, dtype=uv.dtype)], -1)
    rays = torch.linalg.solve(K[0], m.T).T
    rays = rays / rays[:, 2:3]
    Zs = torch.linspace(0.0, 200.0, 20001, dtype=uv.dtype)
    best = (((Zs[:, None] + zr[0, skeleton.NECK]) * rays[skeleton.NECK] - Zs[:, None] * rays[skeleton.PELVIS]) ** 2).sum(-1).min()
    assert abs(best.item() - s2.item()) < 1e-4


def test_hinge_pulls_an_invalid_view_back_to_validity(rng):
    """Gradient descent on the penalty alone makes the view valid again (with "mask" it has no gradient)."""
    uv, zr, K = _invalid_case(rng)
    z = zr.clone().requires_grad_()
    opt = torch.optim.SGD([z], lr=0.05)
    for _ in range(300):
        _, _, valid, pen = G.reconstruct(uv, z, K, invalid="hinge")
        if valid.all():
            break
        opt.zero_grad()
        L.validity_penalty(pen).backward()
        opt.step()
    assert G.reconstruct(uv, z.detach(), K)[2].all()
    # the literal formulation gives the invalid view nothing to follow
    z2 = zr.clone().requires_grad_()
    pts, _, valid = G.reconstruct(uv, z2, K)
    mb = torch.full((16,), 0.5, dtype=torch.float64)
    L.limb_length_loss(pts, torch.ones(2, 17), mb, valid).backward()
    assert z2.grad[0].abs().max() == 0


def test_hinge_gradcheck(rng):
    uv, zr, K = _invalid_case(rng)
    zr = zr.requires_grad_()
    uv = uv.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: G.reconstruct(a, b, K, invalid="hinge")[3], (uv, zr))
    assert torch.autograd.gradcheck(lambda a, b: G.reconstruct(a, b, K, invalid="hinge")[0], (uv, zr))


def test_validity_penalty_mask():
    pen = torch.tensor([[1.0, 0.0], [3.0, 5.0]])
    mask = torch.tensor([[True, True], [True, False]])
    assert L.validity_penalty(pen).item() == pytest.approx(9 / 4)
    assert L.validity_penalty(pen, mask).item() == pytest.approx(4 / 3)


# ---------------------------------------------------------------- distance="squared"
def test_squared_distance_hand_computed():
    views = torch.zeros(1, 2, 17, 3, dtype=torch.float64)
    views[0, 1, 3] = torch.tensor([3.0, 4.0, 0.0])           # one joint off by a 3-4-5 vector
    conf = torch.ones(1, 2, 17, dtype=torch.float64)
    R = torch.eye(3, dtype=torch.float64).expand(1, 2, 3, 3)
    t = torch.zeros(1, 2, 3, dtype=torch.float64)
    e = L.consistency_distance(views, conf, R, t, distance="euclidean")
    s = L.consistency_distance(views, conf, R, t, distance="squared")
    l1 = L.consistency_distance(views, conf, R, t, distance="l1")
    assert e.item() == pytest.approx(5.0) and s.item() == pytest.approx(25.0) and l1.item() == pytest.approx(7.0)


def test_squared_distance_zero_and_invariant_for_rigid_views(rng):
    P = random_pose(rng, 3) / 500.0
    Rv = random_rotation(rng, 12).reshape(3, 4, 3, 3)
    views = G.apply_transform(P[:, None], Rv, torch.tensor(rng.normal(size=(3, 4, 3))))
    conf = torch.rand(3, 4, 17, dtype=torch.float64)
    assert L.multiview_consistency(views, conf, distance="squared").item() < 1e-12
    noisy = views + 0.05 * torch.tensor(rng.normal(size=views.shape))
    before = L.multiview_consistency(noisy, conf, distance="squared")
    moved = noisy.clone()
    moved[:, 1] = G.apply_transform(moved[:, 1], random_rotation(rng, 3), torch.tensor(rng.normal(size=(3, 3))))
    torch.testing.assert_close(L.multiview_consistency(moved, conf, distance="squared"), before, atol=1e-9, rtol=1e-7)


# ---------------------------------------------------------------- chirality
def test_chirality_sign_flips_under_depth_mirror(rng):
    P = random_pose(rng, 1)[0]
    # a hand-built upright body facing -z (towards a camera at the origin looking along +z)
    body = torch.zeros(17, 3, dtype=torch.float64)
    body[skeleton.JOINTS_LEFT[0]] = torch.tensor([0.1, 0.0, 0.0])    # l_hip at the body's left = +x (camera view)
    body[skeleton.JOINTS_RIGHT[0]] = torch.tensor([-0.1, 0.0, 0.0])
    body[skeleton.NECK] = torch.tensor([0.0, -1.0, 0.0])             # up = -y in image coordinates
    body[skeleton.NECK + 1] = torch.tensor([0.0, -1.1, -0.1])        # nose towards the camera
    c = L.chirality(body)
    # det[(0.2,0,0), (0,-1,0), (0,-0.1,-0.1)] / norms
    expect = torch.linalg.det(torch.stack([body[4] - body[1], body[8] - body[0], body[9] - body[8]])) / (
        0.2 * 1.0 * math.sqrt(0.02))
    torch.testing.assert_close(c, expect)
    mirrored = body.clone()
    mirrored[:, 2] = -mirrored[:, 2]
    torch.testing.assert_close(L.chirality(mirrored), -c)
    R = random_rotation(rng, 1)[0]
    torch.testing.assert_close(L.chirality(body @ R.T), c)            # rotation invariant
    del P


def test_chirality_loss_hinge():
    body = torch.zeros(2, 17, 3, dtype=torch.float64)
    body[:, 4, 0], body[:, 1, 0] = 0.1, -0.1
    body[:, 8, 1] = -1.0
    body[0, 9] = torch.tensor([0.0, -1.1, -0.1])
    body[1, 9] = torch.tensor([0.0, -1.1, 0.1])                      # mirrored chirality
    c = L.chirality(body)
    assert c[0] > 0 > c[1]
    torch.testing.assert_close(L.chirality_loss(body), torch.relu(-c).mean())
    torch.testing.assert_close(L.chirality_loss(body, torch.tensor([True, False])), torch.zeros((), dtype=torch.float64))


# ---------------------------------------------------------------- knee / elbow handedness
def _leg_body(flexion_deg: float) -> torch.Tensor:
    """Hips on the body's left/right (+x / -x in the camera view), body facing the camera (-z), image-y down;
    both knees bent by ``flexion_deg``: the ankle goes backwards (+z, away from the camera)."""
    body = torch.zeros(17, 3, dtype=torch.float64)
    a = math.radians(flexion_deg)
    for hip, knee, ankle, x in ((1, 2, 3, -0.1), (4, 5, 6, 0.1)):
        body[hip] = torch.tensor([x, 0.0, 0.0])
        body[knee] = torch.tensor([x, 0.45, 0.0])                               # thigh straight down
        body[ankle] = body[knee] + 0.4 * torch.tensor([0.0, math.cos(a), math.sin(a)])
    return body


def test_knee_handedness_is_the_sine_of_the_flexion_and_flips_under_a_mirror(rng):
    body = _leg_body(40.0)
    k = L.knee_handedness(body)
    torch.testing.assert_close(k, torch.full((2,), math.sin(math.radians(40.0)), dtype=torch.float64))
    torch.testing.assert_close(L.knee_handedness(_leg_body(0.0)), torch.zeros(2, dtype=torch.float64))
    mirrored = body * torch.tensor([1.0, 1.0, -1.0], dtype=body.dtype)
    torch.testing.assert_close(L.knee_handedness(mirrored), -k)
    R = random_rotation(rng, 1)[0]
    torch.testing.assert_close(L.knee_handedness(3.0 * body @ R.T), k)      # rotation and scale invariant


def test_knees_are_positive_on_every_synthetic_body():
    """The sign convention against the synthetic world's own kinematics (knee flexion 0-150 deg): every sampled
    body has both knee signals >= 0 (and > 0.05 on most), its depth mirror <= 0."""
    import numpy as np
    from weakpose.data.synth import poses as sp
    rng = np.random.default_rng(0)
    shape = sp.random_shape(rng)
    J = torch.tensor(np.stack([sp.sample_pose(f, shape, rng).joints for f in sp.FAMILIES for _ in range(40)]))
    k = L.knee_handedness(J)
    assert (k > -1e-9).all() and (k > 0.05).float().mean() > 0.6
    assert (L.knee_handedness(J * torch.tensor([1.0, 1.0, -1.0], dtype=J.dtype)) < 1e-9).all()
    e = L.elbow_handedness(J)
    assert (e > 0).float().mean() > 0.8                                    # weaker: the axis turns with the shoulder


def test_handedness_terms_and_the_loss_over_them():
    body = _leg_body(40.0)
    body[8] = torch.tensor([0.0, -1.0, 0.0])
    body[9] = torch.tensor([0.0, -1.1, -0.1])                              # nose towards the camera
    h = L.handedness(body, ("nose", "knees"))
    torch.testing.assert_close(h, torch.cat([L.chirality(body)[None], L.knee_handedness(body)]))
    assert L.handedness(body, ("nose", "knees", "elbows")).shape == (5,)
    with pytest.raises(ValueError, match="handedness terms"):
        L.handedness(body, ("toes",))
    # a mirrored body that keeps its nose in front clears the nose-only prior but not the knees
    fake = body * torch.tensor([1.0, 1.0, -1.0], dtype=body.dtype)
    fake[9, 2] = -0.1
    assert L.chirality_loss(fake[None], margin=0.1) == 0
    both = L.chirality_loss(fake[None], margin=0.1, terms=("nose", "knees"))
    torch.testing.assert_close(both, (0.1 - L.knee_handedness(fake)).sum() / 3)


# ---------------------------------------------------------------- gradient clipping (mv_grad_clip)
def test_clip_to_running_norm_starts_the_mean_then_bounds_a_spike():
    from weakpose.clipping import clip_to_running_norm
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    q = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    p.grad, q.grad = torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 4.0], dtype=torch.float64)
    run = clip_to_running_norm([p, q], torch.zeros((), dtype=torch.float64), factor=3.0)
    torch.testing.assert_close(run, torch.tensor(5.0, dtype=torch.float64))          # first call: starts at |g|
    torch.testing.assert_close(p.grad, torch.tensor([3.0, 0.0, 0.0], dtype=torch.float64))  # and leaves g alone
    p.grad, q.grad = p.grad * 100, q.grad * 100                                      # a spike: |g| = 500
    run2 = clip_to_running_norm([p, q], run, factor=3.0, decay=0.9)
    total = torch.cat([p.grad, q.grad]).norm()
    torch.testing.assert_close(total, torch.tensor(15.0, dtype=torch.float64))       # clipped to 3 x 5, same direction
    torch.testing.assert_close(p.grad / total, torch.tensor([0.6, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(run2, torch.tensor(0.9 * 5 + 0.1 * 15, dtype=torch.float64))  # the clipped norm enters
    p.grad, q.grad = p.grad / 15, q.grad / 15                                        # a small one: untouched
    clip_to_running_norm([p, q], run2, factor=3.0)
    torch.testing.assert_close(torch.cat([p.grad, q.grad]).norm(), torch.tensor(1.0, dtype=torch.float64))



# ---------------------------------------------------------------- foreshortening
def test_foreshortening_is_the_in_image_share_of_the_bones(rng):
    body = _leg_body(0.0)                                                   # legs straight down, hips along x
    body[7] = torch.tensor([0.0, -0.5, 0.0])
    body[8] = torch.tensor([0.0, -1.0, 0.0])
    body[9] = torch.tensor([0.0, -1.1, 0.0])
    body[10] = torch.tensor([0.0, -1.3, 0.0])
    for j, x in ((11, 0.2), (14, -0.2)):
        body[j] = torch.tensor([x, -1.0, 0.0])
        body[j + 1] = torch.tensor([x, -0.7, 0.0])
        body[j + 2] = torch.tensor([x, -0.4, 0.0])
    torch.testing.assert_close(L.foreshortening(body), torch.ones((), dtype=torch.float64))  # all in the image plane
    tilted = body.clone()
    tilted[:, 2] = tilted[:, 1]                                             # every bone turned 45 deg... (y, z) = (y, y)
    tilted[:, 1] = 0.0                                                      # ... then fully into depth in y
    tilted[:, 2] = body[:, 1]
    b, bt = G.bone_vectors(body), G.bone_vectors(tilted)
    expect = bt[:, :2].norm(dim=-1).sum() / bt.norm(dim=-1).sum()
    torch.testing.assert_close(L.foreshortening(tilted), expect)
    assert L.foreshortening(tilted) < 0.5 < L.foreshortening(body)
    Rz = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(L.foreshortening(2.5 * tilted @ Rz.T), L.foreshortening(tilted))  # rot-z, scale
    torch.testing.assert_close(L.foreshortening_loss(torch.stack([body, tilted]), margin=0.5),
                               (0.5 - L.foreshortening(tilted)) / 2)
    torch.testing.assert_close(L.foreshortening_loss(torch.stack([body, tilted]), torch.tensor([True, False])),
                               torch.zeros((), dtype=torch.float64))
    del b


def test_every_synthetic_body_clears_the_foreshortening_margin():
    """The margin 0.5 of "ours" against the synthetic world: every sampled body, seen from a camera at a random
    azimuth and an elevation up to 45 deg, keeps >= 0.5 of its bone length in the image plane; looking down at 60 deg
    a few upright bodies do not (the prior's limit: steep top-down views)."""
    import numpy as np
    from weakpose.data.synth import poses as sp
    rng = np.random.default_rng(1)
    shape = sp.random_shape(rng)
    J = np.stack([sp.sample_pose(f, shape, rng).joints for f in sp.FAMILIES for _ in range(30)])
    out = []
    for el in (0.0, 30.0, 45.0, 60.0):
        a, e = rng.uniform(0, 2 * np.pi, len(J)), np.radians(el)
        # camera looking horizontally along the world x-y direction a, then tilted down by e; z_cam = view direction
        fwd = np.stack([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), -np.full_like(a, np.sin(e))], -1)
        right = np.stack([-np.sin(a), np.cos(a), np.zeros_like(a)], -1)
        down = np.cross(fwd, right)
        R = np.stack([right, down, fwd], 1)                                 # rows: camera x, y, z in world
        out.append(L.foreshortening(torch.tensor(np.einsum("nij,nkj->nki", R, J))))
    f = torch.cat(out[:3])
    assert (f >= 0.5).all() and f.median() > 0.75
    assert 0.0 < (out[3] < 0.5).double().mean() < 0.05 and out[3].min() > 0.4


def test_torso_foreshortening_is_the_neck_pelvis_bones_in_image_share():
    body = _leg_body(0.0)
    body[8] = torch.tensor([0.0, -1.0, 0.0])                                # neck straight above the pelvis
    torch.testing.assert_close(L.foreshortening(body, "torso"), torch.ones((), dtype=torch.float64))
    lean = body.clone()
    lean[8] = torch.tensor([0.0, -1.0, 1.0])                                # torso leaning 45 deg away
    torch.testing.assert_close(L.foreshortening(lean, "torso"), torch.tensor(0.5 ** 0.5, dtype=torch.float64))
    lean[3] = torch.tensor([0.0, 0.0, 5.0])                                 # a leg bone changes "all", not "torso"
    torch.testing.assert_close(L.foreshortening(lean, "torso"), torch.tensor(0.5 ** 0.5, dtype=torch.float64))
    torch.testing.assert_close(L.foreshortening_loss(torch.stack([body, lean]), margin=0.8, bones="torso"),
                               torch.tensor((0.8 - 0.5 ** 0.5) / 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="bones"):
        L.foreshortening(body, "legs")


def test_every_synthetic_torso_near_chest_height_clears_the_torso_margin():
    """The torso margins against the synthetic bodies (bending families included) seen from chest-height cameras:
    0.85: measured 3.9 % below it at 0 deg elevation, 9.4 % at 15 deg, 83 % from 45 deg above; 0.95 (the margin of
    "ours"): 14.4 % below it at 0 deg, but its mean hinge there is only 0.012 (x the weight 10: 0.12 of the objective,
    where alpha L_MC is ~4); from 45 deg 0.24 (the prior's limit: it assumes cameras near the body's height)."""
    import numpy as np
    from weakpose.data.synth import poses as sp
    rng = np.random.default_rng(2)
    shape = sp.random_shape(rng)
    J = np.stack([sp.sample_pose(f, shape, rng).joints for f in sp.FAMILIES for _ in range(30)])
    share = {}
    for el in (0.0, 15.0, 45.0):
        a, e = rng.uniform(0, 2 * np.pi, len(J)), np.radians(el)
        fwd = np.stack([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), -np.full_like(a, np.sin(e))], -1)
        right = np.stack([-np.sin(a), np.cos(a), np.zeros_like(a)], -1)
        R = np.stack([right, np.cross(fwd, right), fwd], 1)
        share[el] = L.foreshortening(torch.tensor(np.einsum("nij,nkj->nki", R, J)), "torso")
    below = {el: float((v < 0.85).double().mean()) for el, v in share.items()}
    assert below[0.0] <= 0.05 and below[15.0] <= 0.10 and below[45.0] > 0.5
    assert float(share[0.0].median()) > 0.97
    hinge = {el: float(torch.relu(0.95 - v).mean()) for el, v in share.items()}
    assert hinge[0.0] < 0.015 and hinge[15.0] < 0.03 and hinge[45.0] > 0.2
