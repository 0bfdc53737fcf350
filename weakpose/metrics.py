"""Evaluation metrics, each named after the protocol it implements (Sec. 4.2; data-formats.md Sec. 1.6, 2.6).

Inputs are (N, J, 3) poses in mm (numpy arrays or tensors) in our 17-joint order; every metric returns a (N,)
float64 numpy array (one value per sample) so results can be grouped by subject / action with pandas.
"""
from __future__ import annotations

import numpy as np
import torch

from weakpose import geometry, skeleton

PCK_THRESHOLD_MM = 150.0
SC_BIAS = 0.6  # PCKh head size = 0.6 x head-box diagonal (data-formats.md Sec. 3)
MPII_J = len(skeleton.JOINT_NAMES_MPII16)
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)  # 0:5:150, 31 values


def _t(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x.detach().cpu(), dtype=torch.float64)


def _check(pred: torch.Tensor, gt: torch.Tensor, dims: int = 3) -> None:
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != dims:
        raise ValueError(f"expected pred and gt of equal shape (N, J, {dims}), got {tuple(pred.shape)} and {tuple(gt.shape)}")


def _root_relative(pred, gt, root: int):
    p, g = _t(pred), _t(gt)
    _check(p, g)
    return p - p[:, root:root + 1], g - g[:, root:root + 1]


def _joint_errors(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (p - g).norm(dim=-1)


def _nscale(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Least-squares scale s = <p, g> / <p, p> per sample (Rhodin et al. CVPR'18)."""
    return (p * g).sum(dim=(1, 2)) / (p * p).sum(dim=(1, 2)).clamp_min(1e-12)


def mpjpe(pred, gt, root: int = skeleton.PELVIS) -> np.ndarray:
    """Protocol #1: mean joint distance (mm) after subtracting the root from prediction and ground truth."""
    p, g = _root_relative(pred, gt, root)
    return _joint_errors(p, g).mean(-1).numpy()


def n_mpjpe(pred, gt, root: int = skeleton.PELVIS) -> np.ndarray:
    """N-MPJPE: MPJPE after the root-aligned prediction is scaled by s = <p, g> / <p, p> (per sample)."""
    p, g = _root_relative(pred, gt, root)
    return _joint_errors(_nscale(p, g)[:, None, None] * p, g).mean(-1).numpy()


def p_mpjpe(pred, gt) -> np.ndarray:
    """Protocol #2: MPJPE after a similarity Procrustes alignment (rotation, uniform scale, translation; no
    reflection) of the prediction onto the ground truth."""
    p, g = _t(pred), _t(gt)
    _check(p, g)
    s, R, t = geometry.similarity_align(p, g)
    return _joint_errors(geometry.apply_transform(p, R, t, s), g).mean(-1).numpy()


def _pck_from_errors(err: torch.Tensor, joints, threshold: float) -> np.ndarray:
    return (100.0 * (err[:, list(joints)] < threshold).double().mean(-1)).numpy()


def pck(pred, gt, threshold: float = PCK_THRESHOLD_MM, joints=skeleton.PCK14, root: int = skeleton.PELVIS) -> np.ndarray:
    """3DHP PCK (percent): root-relative joints of the 14-joint set with error strictly below ``threshold`` mm."""
    p, g = _root_relative(pred, gt, root)
    return _pck_from_errors(_joint_errors(p, g), joints, threshold)


def npck(pred, gt, threshold: float = PCK_THRESHOLD_MM, joints=skeleton.PCK14, root: int = skeleton.PELVIS) -> np.ndarray:
    """N-PCK (Rhodin et al.): PCK after the N-MPJPE scale alignment."""
    p, g = _root_relative(pred, gt, root)
    return _pck_from_errors(_joint_errors(_nscale(p, g)[:, None, None] * p, g), joints, threshold)


def pck_curve(pred, gt, thresholds=AUC_THRESHOLDS_MM, joints=skeleton.PCK14, root: int = skeleton.PELVIS
              ) -> np.ndarray:
    """PCK (percent) of each sample at each threshold: (N, len(thresholds)); the curve whose mean is `auc`."""
    p, g = _root_relative(pred, gt, root)
    err = _joint_errors(p, g)
    return np.stack([_pck_from_errors(err, joints, th) for th in thresholds], axis=-1)


def auc(pred, gt, joints=skeleton.PCK14, root: int = skeleton.PELVIS) -> np.ndarray:
    """3DHP AUC (percent): mean of PCK over thresholds 0:5:150 mm (31 values, strict <). A perfect prediction
    scores 100 * 30 / 31 because nothing is strictly below 0 mm."""
    return pck_curve(pred, gt, AUC_THRESHOLDS_MM, joints, root).mean(-1)


def mpjpe_2d(pred, gt, visible=None) -> np.ndarray:
    """Mean 2D joint distance in px over visible joints. pred, gt: (N, J, 2); visible: (N, J) bool or None.
    Samples with no visible joint give NaN."""
    p, g = _t(pred), _t(gt)
    _check(p, g, dims=2)
    err = (p - g).norm(dim=-1)
    vis = torch.ones_like(err, dtype=torch.bool) if visible is None else torch.as_tensor(np.asarray(visible, bool))
    n = vis.sum(-1).double()
    out = torch.where(vis, err, torch.zeros_like(err)).sum(-1) / n
    return out.numpy()


def pckh(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray, headboxes: np.ndarray,
         threshold: float = 0.5) -> dict[str, float]:
    """PCKh as HRNet's ``MPIIDataset.evaluate`` computes it (data-formats.md Sec. 3).

    Args:
        pred, gt: (N, 16, 2) pixels in MPII joint order, the same pixel convention (distances only).
        missing: (N, 16) bool, True = joint not annotated (not counted).
        headboxes: (N, 2, 2) two corners (corner, xy) of each head box, pixels.
        threshold: fraction of the head size (0.6 x head-box diagonal, SC_BIAS).
    Returns percentages: Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle (left/right averaged), Mean (weighted by
    joint counts, pelvis and thorax excluded) at ``threshold``, and Mean@0.1.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.shape[1:] != (MPII_J, 2):
        raise ValueError(f"pred and gt must both be (N, 16, 2), got {pred.shape} and {gt.shape}")
    visible = ~np.asarray(missing, bool)
    headsize = SC_BIAS * np.linalg.norm(headboxes[:, 1] - headboxes[:, 0], axis=-1)  # (N,)
    err = np.linalg.norm(pred - gt, axis=-1) / headsize[:, None]  # (N, 16) in head sizes
    count = visible.sum(0)
    weight = count.astype(np.float64)
    weight[[6, 7]] = 0.0  # pelvis and thorax are masked out of the mean
    weight /= weight.sum()

    def per_joint(th: float) -> np.ndarray:
        hit = ((err <= th) & visible).sum(0)
        return 100.0 * np.divide(hit, count, out=np.zeros(MPII_J), where=count > 0)

    p, p01 = per_joint(threshold), per_joint(0.1)
    name = {n: i for i, n in enumerate(skeleton.JOINT_NAMES_MPII16)}

    def pair(part: str) -> float:
        return 0.5 * (p[name["left_" + part]] + p[name["right_" + part]])

    return {"Head": float(p[name["head_top"]]), "Shoulder": float(pair("shoulder")), "Elbow": float(pair("elbow")),
            "Wrist": float(pair("wrist")), "Hip": float(pair("hip")), "Knee": float(pair("knee")),
            "Ankle": float(pair("ankle")), "Mean": float((p * weight).sum()), "Mean@0.1": float((p01 * weight).sum())}
