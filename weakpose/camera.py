"""Cameras and crops, the one home of the affine map A: a person crop or an augmentation is an affine map of
pixels, and the intrinsics of the image it makes are K' = A K. Projection and person boxes live here too.

Pixel convention everywhere in weakpose: pixel centres sit at integer coordinates (OpenCV's convention, so
`cv2.warpAffine` with A[:2] implements exactly `crop_affine`, and `warp_images` is its batched torch twin).

numpy side (converters, synthetic world, tracklets): `crop_affine`, `crop_image`, `square_box`, `box_from_joints`,
`box_iou`. torch side (the trainer's on-device augmentation, Appendix A): `sample_affines`, `identity_affines`,
`warp_images`, `inside`. Both sides: `transform_points`, `crop_intrinsics`, `project`, which take numpy arrays or
torch tensors and return the same kind.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_CROP_MARGIN = 1.5   # the stored crop covers 1.5 x the nominal person box (room for augmentation)
PERSON_FRACTION = 0.75      # Appendix A: the person covers roughly 75 % of the 256 x 256 training crop


# ----------------------------------------------------------------------------------------------- both sides
def transform_points(A, pts):
    """Apply affine maps A (..., 3, 3) (or one (3, 3)) to points (..., J, 2) (or (..., 2) with one A).

    numpy arrays or torch tensors; with torch, A is cast to the points' dtype. Returns points of the same shape."""
    if torch.is_tensor(pts):
        A = A.to(pts.dtype)
        return pts @ A[..., :2, :2].transpose(-1, -2) + A[..., None, :2, 2] if A.dim() > 2 else \
            pts @ A[:2, :2].T + A[:2, 2]
    A = np.asarray(A)
    if A.ndim > 2:
        return pts @ np.swapaxes(A[..., :2, :2], -1, -2) + A[..., None, :2, 2]
    return pts @ A[:2, :2].T + A[:2, 2]


def crop_intrinsics(A, K):
    """K' = A K: the intrinsics of the image that the affine map A (..., 3, 3) makes of an image with intrinsics
    K (..., 3, 3), in float64 (numpy or torch, like K)."""
    if torch.is_tensor(K):
        return A.to(torch.float64) @ K.to(torch.float64)
    return np.asarray(A, np.float64) @ np.asarray(K, np.float64)


def project(points, K):
    """Pinhole projection (u, v) = (K p)_xy / (K p)_z.

    points: (..., J, 3) camera frame (any length unit, Z > 0), numpy also (..., 3) with one K; K: (3, 3) or
    (..., 3, 3) px. numpy (float64) or torch (its dtype). Returns (..., J, 2) px."""
    if torch.is_tensor(points):
        m = torch.einsum("...ij,...nj->...ni", K, points)
    else:
        K, points = np.asarray(K, np.float64), np.asarray(points, np.float64)
        m = points @ K.T if K.ndim == 2 else np.einsum("...ij,...kj->...ki", K, points)
    return m[..., :2] / m[..., 2:3]


# ----------------------------------------------------------------------------------------------- numpy: crops
def crop_affine(center: np.ndarray, box_side: float, crop_size: int, margin: float = DEFAULT_CROP_MARGIN) -> np.ndarray:
    """Affine map from full-image pixels to stored-crop pixels.

    Args:
        center: (2,) nominal box centre in full-image pixels.
        box_side: side of the nominal (square) person box in full-image pixels.
        crop_size: S, side of the stored crop in pixels; the stored crop covers ``box_side * margin`` pixels.
    Returns:
        A: (3, 3) float64 with x_crop = A @ [x, y, 1].
    """
    if not np.isfinite(box_side) or box_side <= 0:
        raise ValueError(f"box side must be positive and finite, got {box_side}")
    sc = crop_size / (box_side * margin)
    c = (crop_size - 1) / 2.0
    return np.array([[sc, 0.0, c - sc * center[0]], [0.0, sc, c - sc * center[1]], [0.0, 0.0, 1.0]])


def crop_image(image: np.ndarray, A: np.ndarray, crop_size: int) -> np.ndarray:
    """Warp (H, W, 3) uint8 image with A into a (S, S, 3) crop (bilinear, black outside)."""
    return cv2.warpAffine(image, A[:2].astype(np.float64), (crop_size, crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def square_box(x0: float, y0: float, x1: float, y1: float,
               fraction: float = PERSON_FRACTION) -> tuple[np.ndarray, float]:
    """Nominal square box around a tight person box (pixels) so that the person spans ``fraction`` of its side.
    Returns (center (2,), side >= 1)."""
    side = max(x1 - x0, y1 - y0) / fraction
    return np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0]), max(float(side), 1.0)


def box_from_joints(joints2d: np.ndarray, visible: np.ndarray | None = None,
                    fraction: float = PERSON_FRACTION) -> tuple[np.ndarray, float]:
    """`square_box` around the tight box of 2D joints (J, 2) px (only the finite ``visible`` ones, (J,) bool).
    Returns (center (2,), side)."""
    pts = joints2d if visible is None else joints2d[np.asarray(visible, bool)]
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) < 2:
        raise ValueError("need at least two finite visible joints to place a box")
    lo, hi = pts.min(0), pts.max(0)
    return square_box(lo[0], lo[1], hi[0], hi[1], fraction)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (N, 4) and (M, 4), x0 y0 x1 y1 px -> (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


# ----------------------------------------------------------------------------------------------- torch: augmentation
def sample_affines(n: int, stored_size: int, crop_margin: float, input_size: int, scale: float, rotation_deg: float,
                   generator: torch.Generator | None, device) -> torch.Tensor:
    """(n, 3, 3) float64 maps from stored-crop px to network-input px (Appendix A augmentation).

    The stored crop (``stored_size`` px) holds the nominal person box (stored_size / crop_margin px) at its centre;
    without augmentation that box fills the input exactly. With augmentation the box is scaled by
    s in [1 - scale, 1 + scale] and rotated by r in [-rotation_deg, rotation_deg] about the centre.
    """
    u = torch.rand(n, 2, generator=generator, device=device, dtype=torch.float64) * 2 - 1
    s = 1.0 + scale * u[:, 0]
    r = math.radians(rotation_deg) * u[:, 1]
    nominal = stored_size / crop_margin
    k = input_size / nominal * s                                          # px_in per px_stored
    c_in, c_st = (input_size - 1) / 2.0, (stored_size - 1) / 2.0
    cos, sin = torch.cos(r) * k, torch.sin(r) * k
    A = torch.zeros(n, 3, 3, dtype=torch.float64, device=device)
    A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1] = cos, -sin, sin, cos
    A[:, 0, 2] = c_in - (cos * c_st - sin * c_st)
    A[:, 1, 2] = c_in - (sin * c_st + cos * c_st)
    A[:, 2, 2] = 1.0
    return A


def identity_affines(n: int, stored_size: int, crop_margin: float, input_size: int, device) -> torch.Tensor:
    """The evaluation map: the nominal box fills the input, no rotation. (n, 3, 3) float64."""
    return sample_affines(n, stored_size, crop_margin, input_size, 0.0, 0.0, None, device) if n else \
        torch.zeros(0, 3, 3, dtype=torch.float64, device=device)


def warp_images(images: torch.Tensor, A: torch.Tensor, input_size: int, channels_last: bool = False) -> torch.Tensor:
    """Warp uint8 (n, S, S, 3) stored crops into float (n, 3, input_size, input_size) in [0, 255] (bilinear,
    zeros outside), with output pixel x taking the stored pixel A^-1 x."""
    n, S = images.shape[0], images.shape[1]
    x = images.permute(0, 3, 1, 2).float()
    Ainv = torch.linalg.inv(A)
    coords = torch.arange(input_size, device=images.device, dtype=torch.float64)
    gy, gx = torch.meshgrid(coords, coords, indexing="ij")
    pts = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(1, -1, 3)      # (1, P, 3)
    src = pts @ Ainv.transpose(-1, -2)                                          # (n, P, 3)
    grid = (src[..., :2] / (S - 1) * 2 - 1).reshape(n, input_size, input_size, 2).to(x.dtype)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.contiguous(memory_format=torch.channels_last) if channels_last else out


def inside(pts: torch.Tensor, size: int) -> torch.Tensor:
    """(n, J) bool: points (n, J, 2) inside the [0, size - 1] square."""
    return ((pts >= 0) & (pts <= size - 1)).all(-1)
