"""Pose-based person tracking and the tracklet filters of Sec. 4.1: pure functions on boxes, 2D poses and
confidences (numpy), used by `weakpose.tracklets`.

Tracking follows the simple baselines the paper adopts ([49], Xiao et al. ECCV'18): greedy matching between
consecutive frames on sim = w IoU(boxes) + (1 - w) OKS(poses). Filters: a pose is dropped when more than half of its
joints have confidence < tau, or when the neck or the pelvis has confidence < tau (eq. 3 needs both); tracklets
shorter than ``min_length`` frames are dropped.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from weakpose import skeleton
from weakpose.camera import box_iou

# OKS fall-off kappa = 2 sigma per joint: COCO's keypoint sigmas on our joints (pelvis, spine: the hips'; thorax:
# the shoulders'; nose: the nose's; head top: the ears').
KAPPA = 2 * np.array([.107, .107, .087, .089, .107, .087, .089, .107, .079, .026, .035, .079, .072, .062, .079, .072,
                      .062])


# --------------------------------------------------------------------------------------------- filters (Sec. 4.1)
def too_many_low_joints(conf: np.ndarray, tau: float = 0.5, max_low_fraction: float = 0.5) -> np.ndarray:
    """(..., J) confidences -> (...,) bool, True where more than ``max_low_fraction`` of the J joints have
    confidence < tau. A confidence equal to tau is not low; NaN is low. Exactly half low (J even) is kept."""
    conf = np.asarray(conf, np.float64)
    return (~(conf >= tau)).sum(-1) > max_low_fraction * conf.shape[-1]


def joint_below(conf: np.ndarray, joint: int, tau: float = 0.5) -> np.ndarray:
    """(..., J) -> (...,) bool: joint ``joint`` has confidence < tau (NaN counts as below)."""
    return ~(np.asarray(conf, np.float64)[..., joint] >= tau)


def drop_reasons(conf: np.ndarray, tau: float = 0.5, max_low_fraction: float = 0.5) -> dict[str, np.ndarray]:
    """The three pose filters of Sec. 4.1 on (..., J) confidences, each (...,) bool (True = drop):
    "half_joints" (more than half the joints < tau), "neck" (joint 8 < tau), "pelvis" (joint 0 < tau)."""
    return {"half_joints": too_many_low_joints(conf, tau, max_low_fraction),
            "neck": joint_below(conf, skeleton.NECK, tau), "pelvis": joint_below(conf, skeleton.PELVIS, tau)}


def keep_pose(conf: np.ndarray, tau: float = 0.5, max_low_fraction: float = 0.5) -> np.ndarray:
    """(..., J) -> (...,) bool: the pose passes all three filters of `drop_reasons`."""
    return ~np.logical_or.reduce(list(drop_reasons(conf, tau, max_low_fraction).values()))


def keep_tracklet(length: int | np.ndarray, min_length: int = 5) -> bool | np.ndarray:
    """A tracklet of ``length`` frames (after the pose filters) is kept when length >= min_length."""
    return np.asarray(length) >= min_length


# --------------------------------------------------------------------------------------------- tracking ([49])
def pose_oks(ja: np.ndarray, ca: np.ndarray, jb: np.ndarray, cb: np.ndarray, area: np.ndarray) -> np.ndarray:
    """OKS-like pose similarity in [0, 1]: sum_j w_j exp(-d_j^2 / (2 area kappa_j^2)) / sum_j w_j, with d_j the pixel
    distance of joint j, w_j = min(conf_a, conf_b) clipped to [0, 1] (NaN = 0), kappa = `KAPPA`.

    ja (N, J, 2), jb (M, J, 2) px; ca (N, J), cb (M, J); area (N, M) px^2 (the squared object scale). Pairs
    without a confident joint in common score 0. Returns (N, M)."""
    d2 = ((np.asarray(ja, np.float64)[:, None] - np.asarray(jb, np.float64)[None]) ** 2).sum(-1)    # (N, M, J)
    e = np.exp(-d2 / (2 * np.asarray(area, np.float64)[..., None] * KAPPA[: d2.shape[-1]] ** 2))
    w = np.clip(np.nan_to_num(np.minimum(np.asarray(ca)[:, None], np.asarray(cb)[None]), nan=0.0), 0.0, 1.0)
    w = np.where(np.isfinite(e), w, 0.0)
    num, den = (w * np.nan_to_num(e)).sum(-1), w.sum(-1)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)


def similarity(boxes_a, joints_a, conf_a, boxes_b, joints_b, conf_b, iou_weight: float = 0.5) -> np.ndarray:
    """sim = w IoU + (1 - w) OKS between N people of one frame and M of another (boxes (., 4) px, joints
    (., J, 2) px, conf (., J)); the OKS scale^2 is the geometric mean of the two box areas. Returns (N, M)."""
    wa = np.clip(boxes_a[:, 2:] - boxes_a[:, :2], 0, None).prod(-1)
    wb = np.clip(boxes_b[:, 2:] - boxes_b[:, :2], 0, None).prod(-1)
    area = np.sqrt(wa[:, None] * wb[None]) + 1e-9
    return iou_weight * box_iou(boxes_a, boxes_b) + (1 - iou_weight) * pose_oks(joints_a, conf_a, joints_b, conf_b,
                                                                               area)


def greedy_match(sim: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """Greedy one-to-one assignment on an (N, M) similarity: repeatedly take the most similar free pair while its
    similarity >= min_similarity (ties: lower flat index first). Returns [(i, j), ...] in the order taken."""
    sim = np.asarray(sim, np.float64)
    order = np.argsort(-sim, axis=None, kind="stable")
    used_i, used_j, out = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), sim.shape[1])
        if not sim[i, j] >= min_similarity:
            break
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return out


def link(boxes: Sequence[np.ndarray], joints: Sequence[np.ndarray], conf: Sequence[np.ndarray],
         iou_weight: float = 0.5, min_similarity: float = 0.3, max_gap: int = 0) -> list[list[tuple[int, int]]]:
    """Pose-based tracking over F frames. Per frame f: boxes[f] (N_f, 4) px, joints[f] (N_f, J, 2) px, conf[f]
    (N_f, J). Each track's last person is matched greedily (`greedy_match` on `similarity`) to the people of frame
    f if it was seen at most ``max_gap`` frames before f - 1; unmatched people start new tracks.
    Returns tracks as lists of (frame, person index), in order of their first frame."""
    tracks: list[list[tuple[int, int]]] = []
    for f in range(len(boxes)):
        cand = [k for k, tr in enumerate(tracks) if f - tr[-1][0] <= 1 + max_gap]
        taken: set[int] = set()
        if cand and len(boxes[f]):
            last = [tracks[k][-1] for k in cand]
            pick = lambda arrs: np.stack([arrs[g][d] for g, d in last])  # noqa: E731
            sim = similarity(pick(boxes), pick(joints), pick(conf), boxes[f], joints[f], conf[f], iou_weight)
            for i, j in greedy_match(sim, min_similarity):
                tracks[cand[i]].append((f, j))
                taken.add(j)
        tracks += [[(f, j)] for j in range(len(boxes[f])) if j not in taken]
    return tracks
