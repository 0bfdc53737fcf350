
import pytest
import torch

from helpers import crop_transform, random_pose, random_rotation, random_scene
from weakpose import geometry as G
from weakpose.camera import project
from weakpose import skeleton


def _scale(P):
    return (P[:, skeleton.NECK] - P[:, skeleton.PELVIS]).norm(dim=-1)


def _z_rel(P):
    return (P[..., 2] - P[:, skeleton.PELVIS, None, 2]) / _scale(P)[:, None]


@pytest.mark.parametrize("kind", ["full", "crop", "general"])
def test_reconstruct_round_trip(rng, kind):
    P, K = random_scene(rng, 64)
    if kind == "crop":
        K = crop_transform(rng, 64) @ K
    elif kind == "general":  # any invertible K, last row not (0, 0, 1)
        M = torch.eye(3, dtype=torch.float64) + 0.1 * torch.tensor(rng.normal(size=(64, 3, 3)))
        M[:, 2] = torch.tensor([1e-5, -2e-5, 1.0])
        K = M @ K
    uv = project(P, K)
    Phat, z_root, valid = G.reconstruct(uv, _z_rel(P), K)
    s = _scale(P)
    assert valid.all()
    torch.testing.assert_close(Phat, P / s[:, None, None], atol=1e-6, rtol=0)
    torch.testing.assert_close(z_root, P[:, 0, 2] / s, atol=1e-6, rtol=0)
    torch.testing.assert_close((Phat[:, skeleton.NECK] - Phat[:, skeleton.PELVIS]).norm(dim=-1),
                               torch.ones(64, dtype=torch.float64))


def test_reconstruct_degenerate_inputs_are_finite_and_flagged(rng):
    P, K = random_scene(rng, 4)
    uv = project(P, K)
    zr = _z_rel(P)
    # 0: negative discriminant: relative depth of the neck far larger than 1 with rays nearly identical
    uv[0, skeleton.NECK] = uv[0, skeleton.PELVIS] + 1.0
    zr[0, skeleton.NECK] = 5.0
    # 1: neck and pelvis on the same ray
    uv[1, skeleton.NECK] = uv[1, skeleton.PELVIS]
    zr[1, skeleton.NECK] = 0.0
    # 2: a ray parallel to the image plane (K with a zero last row component for this pixel)
    K[2] = torch.tensor([[1000.0, 0, 500], [0, 1000, 500], [0.002, 0, 0]], dtype=torch.float64)
    uv[2, :] = torch.tensor([600.0, 300.0])
    Phat, z_root, valid = G.reconstruct(uv, zr, K)
    assert valid.tolist() == [False, False, False, True]
    assert torch.isfinite(Phat).all() and torch.isfinite(z_root).all()


def test_reconstruct_gradcheck(rng):
    P, K = random_scene(rng, 3)
    uv = project(P, K).requires_grad_()
    zr = _z_rel(P).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: G.reconstruct(a, b, K)[0], (uv, zr))


def test_soft_argmax_peak_and_stride():
    H, W, stride = 16, 12, 4
    hm = torch.zeros(2, 3, H, W)
    hm[0, 0, 5, 7] = 1.0
    hm[1, 2, 0, 0] = 1.0
    uv, probs = G.soft_argmax(hm, stride=stride, temperature=1000.0)
    torch.testing.assert_close(uv[0, 0], torch.tensor([7 * 4 + 1.5, 5 * 4 + 1.5]))
    torch.testing.assert_close(uv[1, 2], torch.tensor([1.5, 1.5]))
    torch.testing.assert_close(probs.sum(dim=(-2, -1)), torch.ones(2, 3))
    # a flat heatmap averages to the centre of the input image
    uv, _ = G.soft_argmax(torch.zeros(1, 1, H, W), stride=stride)
    torch.testing.assert_close(uv[0, 0], torch.tensor([(W * stride - 1) / 2, (H * stride - 1) / 2]))


def test_relative_depth_reads_the_peak():
    hm = torch.full((1, 2, 8, 8), -10.0)
    hm[0, 0, 3, 4] = hm[0, 1, 6, 1] = 10.0
    dm = torch.arange(64.0).reshape(1, 1, 8, 8).repeat(1, 2, 1, 1)
    _, probs = G.soft_argmax(hm)
    torch.testing.assert_close(G.relative_depth(probs, dm), torch.tensor([[28.0, 49.0]]))


def test_soft_argmax_relative_depth_gradcheck():
    g = torch.Generator().manual_seed(0)
    hm = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    dm = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=g, requires_grad=True)

    def f(h, d):
        uv, probs = G.soft_argmax(h, stride=4, temperature=2.0)
        return uv, G.relative_depth(probs, d)

    assert torch.autograd.gradcheck(f, (hm, dm))


def test_heatmap_confidence_samples_the_peak():
    hm = torch.zeros(1, 2, 8, 8)
    hm[0, 0, 2, 3] = 0.8
    hm[0, 1, 5, 5] = 3.0
    uv = torch.tensor([[[3 * 4 + 1.5, 2 * 4 + 1.5], [5 * 4 + 1.5, 5 * 4 + 1.5]]])
    torch.testing.assert_close(G.heatmap_confidence(hm, uv, stride=4), torch.tensor([[0.8, 1.0]]))
    uv[0, 0, 0] += 2.0  # half a cell away: bilinear
    assert abs(G.heatmap_confidence(hm, uv, stride=4)[0, 0].item() - 0.4) < 1e-6


def test_rigid_align_recovers_weighted_rotation(rng):
    X = random_pose(rng, 8)
    R = random_rotation(rng, 8)
    t = torch.tensor(rng.normal(size=(8, 3)) * 100)
    Y = G.apply_transform(X, R, t)
    w = torch.ones(8, 17, dtype=torch.float64)
    Y[:, 3] += 500.0  # outlier joint with zero weight must not matter
    w[:, 3] = 0.0
    R_est, t_est = G.rigid_align(X, Y, w)
    torch.testing.assert_close(R_est, R, atol=1e-9, rtol=0)
    torch.testing.assert_close(t_est, t, atol=1e-7, rtol=0)
    R_unw, _ = G.rigid_align(X, Y)  # without the weights the outlier biases the estimate
    assert (R_unw - R).abs().max() > 1e-3


def test_rigid_align_never_reflects(rng):
    X = random_pose(rng, 16)
    Y = X * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # mirror image
    R, _ = G.rigid_align(X, Y)
    torch.testing.assert_close(torch.det(R), torch.ones(16, dtype=torch.float64))


def test_rigid_align_float32_under_autocast(rng):
    X = random_pose(rng, 4).float()
    R = random_rotation(rng, 4).float()
    Y = G.apply_transform(X, R, torch.zeros(4, 3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        R_est, t_est = G.rigid_align(X.bfloat16(), Y.bfloat16())
    assert R_est.dtype == torch.bfloat16  # returned in the caller's dtype, solved in float32
    torch.testing.assert_close(R_est.float(), R, atol=2e-2, rtol=0)


def test_similarity_align(rng):
    X = random_pose(rng, 4)
    R = random_rotation(rng, 4)
    Y = G.apply_transform(X, R, torch.tensor(rng.normal(size=(4, 3))), torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64))
    s, R_est, t = G.similarity_align(X, Y)
    torch.testing.assert_close(s, torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(G.apply_transform(X, R_est, t, s), Y)


def test_fit_scale_closed_form(rng):
    P = random_pose(rng, 5)
    s_true = _scale(P)
    mean_bone = torch.tensor([skeleton.CANONICAL_BONE_MM[b] for b in skeleton.BONES], dtype=torch.float64)
    s = G.fit_scale(P / s_true[:, None, None], mean_bone)
    torch.testing.assert_close(s, s_true)  # bones equal the means exactly -> the true scale
    # against a brute-force minimiser of eq. 12
    Q = P / s_true[:, None, None] * torch.tensor(rng.uniform(0.9, 1.1, size=(5, 17, 1)))
    s = G.fit_scale(Q, mean_bone)
    grid = torch.linspace(0.5, 1.5, 20001, dtype=torch.float64)[:, None] * s[None]
    L = G.bone_vectors(Q).norm(dim=-1)
    cost = ((grid[..., None] * L[None] - mean_bone) ** 2).sum(-1)
    torch.testing.assert_close(grid[cost.argmin(0), torch.arange(5)], s, rtol=1e-4, atol=0)
