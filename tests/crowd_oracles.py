"""Test oracles for the tracklet pipeline on the synthetic crowd videos (`weakpose.data.synth.crowd`): the
ground-truth identity of a box, tracking purity / completeness, and a 2D pose estimator that knows the answer.
They read the videos' hidden ground truth, so they live with the tests, not in the package."""
from __future__ import annotations

from typing import Callable

import numpy as np

from weakpose import skeleton
from weakpose.camera import box_iou


def gt_identity(gt: dict, frame_ts: int, box: np.ndarray, min_iou: float = 0.5) -> int:
    """The ground-truth person id whose box best overlaps ``box`` (4,) px in the frame ``frame_ts``, or -1 when
    no person overlaps with IoU >= ``min_iou``."""
    fr = next((f for f in gt["frames"] if f["frame_ts"] == frame_ts), None)
    if fr is None:
        raise ValueError(f"frame_ts {frame_ts} is not a frame of clip {gt['clip_id']}")
    boxes = np.array([p["box"] for p in fr["people"]], np.float64)
    iou = box_iou(np.asarray(box, np.float64), boxes)[0]
    k = int(np.argmax(iou))
    return int(fr["people"][k]["id"]) if iou[k] >= min_iou else -1


def tracking_scores(tracks: list[list[tuple[int, np.ndarray]]], gt: dict, min_visible: float = 0.5) -> dict:
    """Purity and completeness of tracklets against the true tracks of a crowd video.

    Args:
        tracks: tracklets, each a list of (frame_ts µs, box (4,) x0 y0 x1 y1 px); every entry gets the identity of
            the ground-truth box it overlaps best (IoU >= 0.5, else -1 = no person).
        gt: the ground truth of `render_crowd`. A true track is the frames where its person is at least
            ``min_visible`` visible (those that get a ground-truth detection).
    Returns:
        dict with
        purity: over all tracklet entries, the fraction whose identity equals their tracklet's majority identity
            (1 = no tracklet ever switches person);
        completeness: the mean over true tracks of the fraction of the track's frames covered by its best tracklet
            (the one holding most of its frames; 1 = every person is one unbroken tracklet);
        completeness_min: the worst true track; and the counts num_tracklets, num_entries, num_true_tracks.
    """
    ids = [[gt_identity(gt, int(ts), box) for ts, box in tr] for tr in tracks]
    entries = sum(len(x) for x in ids)
    majority = sum(int(np.bincount(np.asarray(x) + 1).max()) for x in ids if x)
    purity = majority / entries if entries else float("nan")
    true_len = {p["id"]: 0 for p in gt["people"]}
    for fr in gt["frames"]:
        for p in fr["people"]:
            true_len[p["id"]] += p["visible_fraction"] >= min_visible
    comp = []
    for pid, n in true_len.items():
        if n:
            comp.append(max((len(set(ts for (ts, _), i in zip(tr, x) if i == pid)) for tr, x in zip(tracks, ids)),
                            default=0) / n)
    return {"purity": float(purity), "completeness": float(np.mean(comp)) if comp else float("nan"),
            "completeness_min": float(np.min(comp)) if comp else float("nan"), "num_tracklets": len(tracks),
            "num_entries": entries, "num_true_tracks": len(comp)}


def oracle_pose_fn(gt: dict, noise_px: float = 2.0, seed: int = 0) -> Callable:
    """A 2D pose estimator that knows the answer, with the ``pose_fn`` signature of `weakpose.tracklets`:
    ``pose_fn(image (H, W, 3) uint8, boxes (N, 4) px, frame) -> (joints (N, J, 2) px, conf (N, J))``. Each box
    gets the ground-truth joints of the person it overlaps best plus N(0, noise_px^2) pixel noise and confidence 1
    (NaN joints and confidence 0 for a box on no person). ``frame.ts`` selects the frame."""
    rng = np.random.default_rng(seed)
    by_ts = {f["frame_ts"]: f for f in gt["frames"]}

    def pose_fn(image: np.ndarray, boxes: np.ndarray, frame) -> tuple[np.ndarray, np.ndarray]:
        fr = by_ts[int(frame.ts)]
        joints = np.full((len(boxes), skeleton.J, 2), np.nan)
        conf = np.zeros((len(boxes), skeleton.J))
        for i, box in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4)):
            pid = gt_identity(gt, fr["frame_ts"], box)
            if pid >= 0:
                person = next(p for p in fr["people"] if p["id"] == pid)
                joints[i] = np.asarray(person["joints2d"]) + rng.normal(0, noise_px, (skeleton.J, 2))
                conf[i] = 1.0
        return joints, conf

    return pose_fn
