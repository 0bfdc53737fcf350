import numpy as np
import torch

from helpers import random_scene
from weakpose import geometry as G
from weakpose import losses as L
from weakpose.augment import identity_affines, inside, sample_affines, transform_points, warp_images


def test_augmented_K_keeps_reconstruction_exact(rng):
    P, K = random_scene(rng, 32)
    uv = G.project(P, K)
    gen = torch.Generator().manual_seed(0)
    A = sample_affines(32, 384, 1.5, 256, 0.2, 30.0, gen, "cpu")
    K_aug = A @ K
    uv_aug = transform_points(A, uv)
    torch.testing.assert_close(uv_aug, G.project(P, K_aug))  # the targets move with the image
    Phat, _, valid = G.reconstruct(uv_aug, L.relative_depth_target(P), K_aug)
    s = (P[:, 8] - P[:, 0]).norm(dim=-1)
    assert valid.all()
    torch.testing.assert_close(Phat, P / s[:, None, None], atol=1e-6, rtol=0)


def test_ranges_and_identity():
    gen = torch.Generator().manual_seed(1)
    A = sample_affines(2000, 192, 1.5, 128, 0.2, 30.0, gen, "cpu")
    k = torch.sqrt(torch.det(A[:, :2, :2]))  # input px per stored px; 1 = the nominal 128 px box fills the input
    ang = torch.rad2deg(torch.atan2(A[:, 1, 0], A[:, 0, 0]))
    assert 0.79 < k.min() < 0.82 and 1.18 < k.max() < 1.21
    assert -30.01 < ang.min() < -28 and 28 < ang.max() < 30.01
    I = identity_affines(1, 192, 1.5, 128, "cpu")[0]
    corners = torch.tensor([[[32.0, 32.0], [159.0, 159.0]]], dtype=torch.float64)  # nominal box 128 px in 192
    torch.testing.assert_close(transform_points(I[None], corners)[0, 0], torch.tensor([0.0, 0.0], dtype=torch.float64), atol=0.51, rtol=0)


def test_warp_moves_pixels_with_A():
    img = torch.zeros(1, 96, 96, 3, dtype=torch.uint8)
    img[0, 40, 60] = 255  # a dot at (x=60, y=40)
    gen = torch.Generator().manual_seed(3)
    A = sample_affines(1, 96, 1.5, 64, 0.2, 30.0, gen, "cpu")
    out = warp_images(img, A, 64)
    y, x = np.unravel_index(out[0, 0].argmax().item(), (64, 64))
    target = transform_points(A, torch.tensor([[[60.0, 40.0]]], dtype=torch.float64))[0, 0]
    assert abs(x - target[0].item()) <= 1 and abs(y - target[1].item()) <= 1
    assert inside(target[None, None], 64).item()
