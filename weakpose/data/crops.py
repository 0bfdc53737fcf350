"""Person crops with exact intrinsics: a crop is an affine map A of the full image, and its intrinsics are K' = A K.

Pixel convention everywhere in weakpose: pixel centres sit at integer coordinates (OpenCV's convention, so
`cv2.warpAffine` with A[:2] implements exactly the map below).
"""
from __future__ import annotations

import cv2
import numpy as np

from weakpose.data.format import DEFAULT_CROP_MARGIN

PERSON_FRACTION = 0.75  # Appendix A: the person covers roughly 75 % of the 256 x 256 training crop


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


def box_from_joints(joints2d: np.ndarray, visible: np.ndarray | None = None,
                    fraction: float = PERSON_FRACTION) -> tuple[np.ndarray, float]:
    """Square nominal box around 2D joints so that the person spans ``fraction`` of its side.

    joints2d: (J, 2) pixels; visible: (J,) bool. Returns (center (2,), side).
    """
    pts = joints2d if visible is None else joints2d[np.asarray(visible, bool)]
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) < 2:
        raise ValueError("need at least two finite visible joints to place a box")
    lo, hi = pts.min(0), pts.max(0)
    side = float(max(hi - lo)) / fraction
    return (lo + hi) / 2.0, max(side, 1.0)


def crop_image(image: np.ndarray, A: np.ndarray, crop_size: int) -> np.ndarray:
    """Warp (H, W, 3) uint8 image with A into a (S, S, 3) crop (bilinear, black outside)."""
    return cv2.warpAffine(image, A[:2].astype(np.float64), (crop_size, crop_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def transform_points(A: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a (3, 3) affine A to (..., 2) points."""
    return pts @ A[:2, :2].T + A[:2, 2]
