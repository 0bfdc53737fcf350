import pytest
import torch

from helpers import random_pose, random_rotation, random_scene
from weakpose import geometry as G
from weakpose.camera import project
from weakpose import losses as L
from weakpose import skeleton


def _views(rng, B=3, C=4):
    P = random_pose(rng, B) / 500.0  # scale-normalised-ish
    R = random_rotation(rng, B * C).reshape(B, C, 3, 3)
    t = torch.tensor(rng.normal(size=(B, C, 3)))
    return G.apply_transform(P[:, None], R, t), R, t


def test_mc_zero_for_rigid_views(rng):
    views, R, _ = _views(rng)
    conf = torch.rand(3, 4, 17, dtype=torch.float64)
    assert L.multiview_consistency(views, conf).item() < 1e-9
    assert L.multiview_consistency(views, conf, rotations=R).item() < 1e-9


def test_mc_unchanged_when_one_view_moves_rigidly(rng):
    views, _, _ = _views(rng)
    views = views + 0.05 * torch.tensor(rng.normal(size=views.shape))  # inconsistent views
    conf = torch.rand(3, 4, 17, dtype=torch.float64)
    before = L.multiview_consistency(views, conf)
    moved = views.clone()
    moved[:, 2] = G.apply_transform(moved[:, 2], random_rotation(rng, 3), torch.tensor(rng.normal(size=(3, 3))))
    after = L.multiview_consistency(moved, conf)
    assert before.item() > 1e-3
    torch.testing.assert_close(after, before, atol=1e-9, rtol=1e-7)


def test_mc_known_rotation_is_not_rotation_invariant(rng):
    views, R, _ = _views(rng)
    conf = torch.ones(3, 4, 17, dtype=torch.float64)
    wrong = views.clone()
    wrong[:, 1] = G.apply_transform(wrong[:, 1], random_rotation(rng, 3), torch.zeros(3, 3, dtype=torch.float64))
    assert L.multiview_consistency(wrong, conf, rotations=R).item() > 1e-2


def test_mc_view_mask_and_weights(rng):
    views, _, _ = _views(rng, B=2, C=3)
    noisy = views.clone()
    noisy[:, 2] += 1.0 * torch.tensor(rng.normal(size=noisy[:, 2].shape))
    conf = torch.ones(2, 3, 17, dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [True, True, False]])
    assert L.multiview_consistency(noisy, conf, view_mask=mask).item() < 1e-9
    conf[:, 2] = 0.0  # zero confidence silences the noisy view as well
    assert L.multiview_consistency(noisy, conf).item() < 1e-9


@pytest.mark.parametrize("distance", ["euclidean", "l1"])
def test_mc_gradcheck_with_R_detached(rng, distance):
    views, _, _ = _views(rng, B=2, C=3)
    views = (views + 0.1 * torch.tensor(rng.normal(size=views.shape))).requires_grad_()
    conf = torch.rand(2, 3, 17, dtype=torch.float64)
    R, t = L.pair_transforms(views, conf)
    assert not R.requires_grad and not t.requires_grad
    assert torch.autograd.gradcheck(lambda v: L.consistency_distance(v, conf, R, t, distance=distance), (views,))
    # the full loss backpropagates only through the poses, not through the SVD
    L.multiview_consistency(views, conf).backward()
    assert torch.isfinite(views.grad).all()


def test_literal_l1_is_not_invariant_to_moving_the_target_view(rng):
    views, _, _ = _views(rng)
    views = views + 0.05 * torch.tensor(rng.normal(size=views.shape))
    conf = torch.ones(3, 4, 17, dtype=torch.float64)
    moved = views.clone()
    moved[:, 2] = G.apply_transform(moved[:, 2], random_rotation(rng, 3), torch.zeros(3, 3, dtype=torch.float64))
    a = L.multiview_consistency(views, conf, distance="l1")
    b = L.multiview_consistency(moved, conf, distance="l1")
    assert abs(a.item() - b.item()) > 1e-4


def test_limb_length_loss(rng):
    P = random_pose(rng, 4)
    s = (P[:, skeleton.NECK] - P[:, skeleton.PELVIS]).norm(dim=-1)
    Phat = P / s[:, None, None]
    mu = G.bone_vectors(Phat).norm(dim=-1)[0]
    conf = torch.ones(4, 17, dtype=torch.float64)
    assert L.limb_length_loss(Phat[:1], conf[:1], mu).item() < 1e-12
    # hand-computed: one bone 0.1 too long with confidences 0.5 and 0.8 -> 0.4 * 0.01
    Q = Phat[:1].clone()
    d = Q[0, 16] - Q[0, 15]
    Q[0, 16] = Q[0, 15] + d * (1 + 0.1 / d.norm())
    c = torch.ones(1, 17, dtype=torch.float64)
    c[0, 15], c[0, 16] = 0.5, 0.8
    assert abs(L.limb_length_loss(Q, c, mu).item() - 0.004) < 1e-12
    Pg = (Phat + 0.01).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: L.limb_length_loss(p, conf, mu), (Pg,))


def test_gaussian_target_peaks_at_joint_and_soft_argmax_reads_it():
    uv = torch.tensor([[[29.5, 33.5], [40.2, 30.7]]])
    hm = L.gaussian_heatmaps(uv, 16, 16, stride=4, sigma=1.5)
    assert hm.shape == (1, 2, 16, 16) and abs(hm[0, 0, 8, 7].item() - 1.0) < 1e-6
    est, _ = G.soft_argmax(torch.log(hm.clamp_min(1e-30)), stride=4, temperature=1.0)
    torch.testing.assert_close(est, uv, atol=1e-3, rtol=0)


def test_heatmap_and_depth_losses_respect_weights():
    pred, tgt = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    w = torch.tensor([[1.0, 0, 0], [0, 0, 0]])
    assert L.heatmap_loss(pred, tgt, w).item() == pytest.approx(16.0)  # summed over the 4 x 4 pixels
    assert L.heatmap_loss(pred, tgt, torch.zeros(2, 3)).item() == 0.0
    z = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert L.depth_loss(z, torch.zeros(2, 2), torch.tensor([[1.0, 1.0], [0.0, 0.0]])).item() == pytest.approx(0.5)


def test_relative_depth_target_matches_reconstruct_convention(rng):
    P, K = random_scene(rng, 4)
    zr = L.relative_depth_target(P)
    Phat, _, valid = G.reconstruct(project(P, K), zr, K)
    s = (P[:, skeleton.NECK] - P[:, skeleton.PELVIS]).norm(dim=-1)
    assert valid.all()
    torch.testing.assert_close(Phat * s[:, None, None], P)
