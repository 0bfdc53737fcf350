"""Evaluation metrics, each named after the protocol it implements (Sec. 4.2; data-formats.md Sec. 1.6, 2.6).

Inputs are (N, J, 3) poses in mm (numpy arrays or tensors) in our 17-joint order; every metric returns a (N,)
float64 numpy array (one value per sample) so results can be grouped by subject / action with pandas.
"""
from __future__ import annotations

import numpy as np
import torch

from weakpose import geometry, skeleton

PCK_THRESHOLD_MM = 150.0
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


def auc(pred, gt, joints=skeleton.PCK14, root: int = skeleton.PELVIS) -> np.ndarray:
    """3DHP AUC (percent): mean of PCK over thresholds 0:5:150 mm (31 values, strict <). A perfect prediction
    scores 100 * 30 / 31 because nothing is strictly below 0 mm."""
    p, g = _root_relative(pred, gt, root)
    err = _joint_errors(p, g)
    return np.mean([_pck_from_errors(err, joints, th) for th in AUC_THRESHOLDS_MM], axis=0)


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
