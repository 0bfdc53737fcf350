"""Augmentation on the device: one random similarity per image (scale +-20 %, rotation +-30 deg, Appendix A),
applied as an exact affine map A from stored-crop pixels to network-input pixels, so that K' = A K and the 2D
targets move by the same A. Pixel centres at integer coordinates throughout.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def sample_affines(n: int, stored_size: int, crop_margin: float, input_size: int, scale: float, rotation_deg: float,
                   generator: torch.Generator | None, device) -> torch.Tensor:
    """(n, 3, 3) float64 maps from stored-crop px to input px.

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
    """The evaluation map: the nominal box fills the input, no rotation."""
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


def transform_points(A: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """(n, 3, 3) affine maps applied to (n, J, 2) points."""
    return pts @ A[:, :2, :2].transpose(-1, -2).to(pts.dtype) + A[:, None, :2, 2].to(pts.dtype)


def inside(pts: torch.Tensor, size: int) -> torch.Tensor:
    """(n, J) bool: points inside the [0, size - 1] square."""
    return ((pts >= 0) & (pts <= size - 1)).all(-1)
