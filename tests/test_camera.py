import numpy as np
import pytest
import torch

from helpers import random_scene
from weakpose import geometry as G
from weakpose import losses as L
from weakpose.camera import project, identity_affines, inside, sample_affines, transform_points, warp_images


def test_augmented_K_keeps_reconstruction_exact(rng):
    P, K = random_scene(rng, 32)
    uv = project(P, K)
    gen = torch.Generator().manual_seed(0)
    A = sample_affines(32, 384, 1.5, 256, 0.2, 30.0, gen, "cpu")
    K_aug = A @ K
    uv_aug = transform_points(A, uv)
    torch.testing.assert_close(uv_aug, project(P, K_aug))  # the targets move with the image
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


# ----------------------------------------------------------------------------------------------- crops (numpy)
def test_crop_affine_maps_the_box_onto_the_crop():
    from weakpose import camera

    A = camera.crop_affine(np.array([100.0, 50.0]), 40.0, 64, margin=1.5)
    # the box centre goes to the crop centre; the box side * margin spans the whole crop
    np.testing.assert_allclose(camera.transform_points(A, np.array([[100.0, 50.0]])), [[31.5, 31.5]])
    corners = camera.transform_points(A, np.array([[70.0, 20.0], [130.0, 80.0]]))
    np.testing.assert_allclose(corners[1] - corners[0], [64.0, 64.0])
    with pytest.raises(ValueError, match="box side"):
        camera.crop_affine(np.zeros(2), 0.0, 64)


def test_crop_image_moves_a_pixel_where_A_says():
    from weakpose import camera

    img = np.zeros((120, 160, 3), np.uint8)
    img[40, 90] = 255                                  # (u, v) = (90, 40)
    A = camera.crop_affine(np.array([80.0, 60.0]), 32.5, 65, margin=2.0)   # scale 1, integer shift
    crop = camera.crop_image(img, A, 65)
    v, u = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    assert crop[v, u, 0] == 255 and (u, v) == (42, 12)
    np.testing.assert_allclose(camera.transform_points(A, np.array([[90.0, 40.0]]))[0], [u, v])


def test_K_prime_is_A_K_numpy_and_torch(rng):
    from weakpose import camera

    P = rng.normal(size=(5, 3)) * 200 + [0, 0, 4000]
    K = np.array([[1100.0, 0, 500], [0, 1090, 520], [0, 0, 1]])
    A = camera.crop_affine(np.array([480.0, 530.0]), 300.0, 128)
    np.testing.assert_allclose(camera.project(P, camera.crop_intrinsics(A, K)),
                               camera.transform_points(A, camera.project(P, K)), atol=1e-9)
    Pt, Kt, At = (torch.tensor(x)[None] for x in (P, K, A))
    torch.testing.assert_close(camera.project(Pt, camera.crop_intrinsics(At, Kt)),
                               camera.transform_points(At, camera.project(Pt, Kt)))
    torch.testing.assert_close(camera.transform_points(At, Pt[..., :2]),
                               torch.tensor(camera.transform_points(A, P[:, :2]))[None])
    # one point, one K; and a batch of K
    np.testing.assert_allclose(camera.project(P[0], K), camera.project(P, K)[0])
    assert camera.project(np.stack([P] * 3), np.stack([K] * 3)).shape == (3, 5, 2)


def test_boxes_and_iou_by_hand():
    from weakpose import camera

    c, side = camera.square_box(10, 20, 40, 100)
    np.testing.assert_allclose(c, [25, 60])
    assert side == pytest.approx(80 / 0.75)
    j = np.array([[10.0, 20.0], [40.0, 100.0], [np.nan, np.nan], [500.0, 500.0]])
    c2, side2 = camera.box_from_joints(j, visible=np.array([True, True, True, False]))
    np.testing.assert_allclose(c2, c)
    assert side2 == pytest.approx(side)
    with pytest.raises(ValueError, match="two finite"):
        camera.box_from_joints(j[2:3])
    iou = camera.box_iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 1, 3, 3.], [0, 0, 2, 2], [5, 5, 6, 6]]))
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0]])
