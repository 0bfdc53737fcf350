"""Person tracklets from MannequinChallenge-style videos -> unlabelled multi-view groups (paper Sec. 4.1).

The paper turns each MQC video into "multi-view tracklets": people frozen in place, filmed by a moving camera, so
the frames of one person's track are views of one static pose. Per video (one folder of frames):

1. person boxes per frame, from a COCO results file or from a local torchvision detector (never downloaded);
2. a 2D pose per box from our PoseNet, rebuilt from its checkpoint's own config; the box is made square with the
   person spanning 75 % of it (side = max(w, h) / 0.75, as the training crops) and warped to the network input,
   the predicted joints are mapped back to frame pixels, with their confidences phi;
3. pose-based tracking as in the simple baselines the paper adopts ([49], Xiao et al. ECCV'18): greedy matching
   between consecutive frames on sim = w IoU(boxes) + (1 - w) OKS(poses); unmatched boxes start new tracks (no
   optical-flow propagation: the people do not move and the camera moves slowly);
4. the paper's filters: a pose is dropped when more than half of its joints have confidence < tau = 0.5, or when
   the neck (8) or the pelvis (0) has confidence < tau (both are needed for z_root, eq. 3); then tracklets with
   fewer than 5 frames are dropped (`drop_reasons`, `keep_tracklet`). The filters run after the tracking, so a
   briefly occluded person keeps one identity across the frames whose poses are dropped;
5. the surviving tracklets are written as tracklets JSON, the format ``python -m weakpose.data.real.prepare mqc
   --tracklets`` reads (`weakpose.data.real.mqc`), and as a canonical dataset: one multi-view group per tracklet, view
   = position in the tracklet, no labels, per-frame ``K_crop = A K`` (the conventions of `mqc.write_tracklets`).

Inputs. Frames: the image files (.jpg .jpeg .png .bmp) of a folder; a folder holding only sub-folders is one clip
per sub-folder (clip id = folder name). When every file stem is an integer (MQC: ``<timestamp_us>.jpg``; ffmpeg:
``000123.jpg``) frames are in numeric order and ``frame_ts`` = that integer, else in name order with ``frame_ts`` =
0-based index. Intrinsics: an MQC camera file (.txt, per-frame K at each frame's size, rows matched by timestamp),
or a JSON / .npy with one (3, 3) pixel K or one per frame (F, 3, 3) in frame order (JSON: the bare array or
``{"K": ...}``); a folder is searched for ``<clip_id>.{txt,json,npy}`` (also one level down: MQC's train/,
validation/). Detections: COCO results JSON, a list of ``{"image_id", "category_id", "bbox": [x, y, w, h] px,
"score"}``; only ``category_id`` 1 (person) is used, a missing score counts as 1. ``image_id`` is the frame's file
stem (int ids match integer stems: 123 matches ``000123.jpg``), or, for a dict ``{"images": [{"id", "file_name"}],
"annotations": [...]}``, the stem of the file its id names. A folder is searched for ``<clip_id>.json``.

Outputs under ``out``: ``tracklets.json`` ``{clip_id: [[{"frame_ts", "box": [x0, y0, x1, y1], "score", "joints2d"
(J, 2) px, "conf" (J,)}, ...], ...]}``, ``stats.json`` (parameters and the counts `format_stats` prints) and
``dataset/`` (canonical format; ``extra/`` holds timestamp_us (N,), tracklet_joints2d (N, J, 2) crop px,
tracklet_conf (N, J), and mqc_w2c (N, 3, 4) when the intrinsics came from MQC camera files).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from weakpose import skeleton
from weakpose.progress import progress_bar
from weakpose.camera import DEFAULT_CROP_MARGIN, crop_affine, crop_image, square_box, transform_points
from weakpose.config import resolve_device
from weakpose.data.format import DatasetWriter, Record, check_replaceable
from weakpose.data.real.prepare import DEFAULT_CROP_SIZE, crop_view, read_image, save_extra
from weakpose.model import load_checkpoint
from weakpose.tracking import drop_reasons, keep_pose, keep_tracklet, link
from weakpose.tracklet_inputs import (DETECTIONS_HINT, DETECTOR_ARCHS, Frame, Intrinsics, clip_folders, detect_people,
                                      list_frames, load_detector, load_intrinsics, read_coco_detections)

PoseFn = Callable[[np.ndarray, np.ndarray, "Frame"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Params:
    """Thresholds. tau, max_low_fraction: the pose filters (Sec. 4.1: 0.5, 0.5); min_length: shortest tracklet
    kept (5 frames); min_det_score: detections below are ignored; iou_weight: w of sim = w IoU + (1 - w) OKS;
    min_similarity: weakest accepted match; max_gap: frames a track may skip (0 = consecutive frames only)."""

    tau: float = 0.5
    max_low_fraction: float = 0.5
    min_length: int = 5
    min_det_score: float = 0.5
    iou_weight: float = 0.5
    min_similarity: float = 0.3
    max_gap: int = 0

    def __post_init__(self):
        if not 0 <= self.max_low_fraction <= 1 or not 0 <= self.iou_weight <= 1:
            raise ValueError(f"max_low_fraction and iou_weight must lie in [0, 1], got {self}")
        if self.min_length < 1 or self.max_gap < 0:
            raise ValueError(f"min_length must be >= 1 and max_gap >= 0, got {self}")


# --------------------------------------------------------------------------------------------- 2D poses
def box_input_affine(box: np.ndarray, input_size: int) -> np.ndarray:
    """(3, 3) map from frame px to network-input px for a person box (4,) x0 y0 x1 y1: the square nominal box
    (side max(w, h) / 0.75 at the box centre) fills the input, as the training crops do (identity augmentation)."""
    center, side = square_box(*np.asarray(box, np.float64))
    return crop_affine(center, side, input_size, margin=1.0)


class ModelPoses:
    """The ``pose_fn`` of our 2D model: PoseNet rebuilt from the checkpoint's own config (`model.load_checkpoint`).

    ``__call__(image (H, W, 3) uint8 RGB, boxes (N, 4) px, frame) -> (joints (N, J, 2) frame px, conf (N, J))``.
    """

    def __init__(self, checkpoint: str | Path, device: str | torch.device = "cpu", batch_size: int = 64):
        self.model, self.cfg, _ = load_checkpoint(checkpoint)
        self.device, self.batch_size = torch.device(device), batch_size
        self.model.eval().to(self.device)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, boxes: np.ndarray, frame: Frame | None = None):
        S, joints, conf = self.cfg.input_size, [], []
        for k in range(0, len(boxes), self.batch_size):
            A = np.stack([box_input_affine(b, S) for b in boxes[k:k + self.batch_size]])
            x = torch.from_numpy(np.stack([crop_image(image, a, S) for a in A])).to(self.device)
            out = self.model(x.permute(0, 3, 1, 2).float().contiguous())
            uv = out["uv"].double().cpu().numpy()
            joints += [transform_points(np.linalg.inv(a), p) for a, p in zip(A, uv)]
            conf.append(out["conf"].double().cpu().numpy())
        J = skeleton.J
        return np.asarray(joints).reshape(-1, J, 2), np.concatenate(conf or [np.zeros((0, J))])


# --------------------------------------------------------------------------------------------- one clip
def track_clip(frames: Sequence[Frame], detections: Sequence | Callable, pose_fn: PoseFn, params: Params,
               progress: bool = False) -> tuple[list[list[dict]], dict]:
    """Steps 1-4 on one clip. detections: per frame (boxes (N, 4), scores (N,)), or a function image -> that.
    Returns the surviving tracklets, each a list of entries {"frame", "frame_ts", "box" (4,), "score", "joints2d"
    (J, 2) px, "conf" (J,)}, and the clip's counts (see `format_stats`)."""
    B, P, C, S = [], [], [], []
    for fr in progress_bar(frames, desc=f"poses {frames[0].path.parent.name}", disable=not progress, leave=False):
        image = read_image(fr.path)
        boxes, scores = detections(image) if callable(detections) else detections[fr.index]
        keep = np.asarray(scores) >= params.min_det_score
        boxes, scores = np.asarray(boxes, np.float64)[keep].reshape(-1, 4), np.asarray(scores, np.float64)[keep]
        j, c = pose_fn(image, boxes, fr) if len(boxes) else (np.zeros((0, skeleton.J, 2)), np.zeros((0, skeleton.J)))
        j, c = np.asarray(j, np.float64), np.asarray(c, np.float64)
        if j.shape != (len(boxes), skeleton.J, 2) or c.shape != (len(boxes), skeleton.J):
            raise ValueError(f"pose_fn must return joints ({len(boxes)}, {skeleton.J}, 2) and conf ({len(boxes)}, "
                             f"{skeleton.J}) for {len(boxes)} boxes, got {j.shape} and {c.shape}")
        B.append(boxes)
        S.append(scores)
        P.append(j)
        C.append(c)
    tracks = link(B, P, C, params.iou_weight, params.min_similarity, params.max_gap)
    conf_all = np.concatenate(C) if C else np.zeros((0, skeleton.J))
    reasons = drop_reasons(conf_all, params.tau, params.max_low_fraction)
    kept = np.split(keep_pose(conf_all, params.tau, params.max_low_fraction), np.cumsum([len(b) for b in B])[:-1])
    entries = [[{"frame": f, "frame_ts": frames[f].ts, "box": B[f][d], "score": float(S[f][d]), "joints2d": P[f][d],
                 "conf": C[f][d]} for f, d in tr if kept[f][d]] for tr in tracks]
    out = [e for e in entries if keep_tracklet(len(e), params.min_length)]
    lengths = [len(e) for e in out]
    stats = {"clips": 1, "frames": len(frames), "detections": int(sum(len(b) for b in B)), "poses": len(conf_all),
             **{f"dropped_{k}": int(v.sum()) for k, v in reasons.items()},
             "dropped_poses": int(len(conf_all) - sum(int(k.sum()) for k in kept)), "tracks": len(tracks),
             "tracks_too_short": len(tracks) - len(out), "tracklets": len(out), "images": int(sum(lengths)),
             "min_length": min(lengths, default=0), "max_length": max(lengths, default=0)}
    return out, stats


def merge_stats(stats: Sequence[dict]) -> dict:
    """Totals over clips: counts add up, min / max lengths over the clips that kept tracklets."""
    tot = {k: sum(s[k] for s in stats) for k in stats[0] if k not in ("min_length", "max_length")}
    alive = [s for s in stats if s["tracklets"]]
    tot["min_length"] = min((s["min_length"] for s in alive), default=0)
    tot["max_length"] = max((s["max_length"] for s in alive), default=0)
    return tot


def format_stats(stats: dict, params: Params) -> str:
    """The pipeline statistics, worded like Sec. 4.1 ("This gives 11,413 multi-view tracklets with 241k images")."""
    s, tau = stats, params.tau
    return "\n".join([
        f"[weakpose] tracklets: {s['clips']} clip(s), {s['frames']} frames, {s['detections']} person boxes "
        f"(score >= {params.min_det_score}), {s['poses']} 2D poses",
        f"[weakpose] poses dropped: {s['dropped_poses']} of {s['poses']} (more than "
        f"{params.max_low_fraction:g} of the joints with confidence < tau = {tau:g}: {s['dropped_half_joints']}; "
        f"neck < tau: {s['dropped_neck']}; pelvis < tau: {s['dropped_pelvis']}; a pose can fail several rules)",
        f"[weakpose] tracks linked: {s['tracks']}; dropped with fewer than {params.min_length} frames left: "
        f"{s['tracks_too_short']}",
        f"[weakpose] This gives {s['tracklets']:,} multi-view tracklets with {s['images']:,} images in total."
        + (f" The minimum and maximum length of the tracklets is {s['min_length']} and {s['max_length']} frames."
           if s["tracklets"] else "")])


# --------------------------------------------------------------------------------------------- outputs
def _num(a: np.ndarray, digits: int) -> list:
    """Rounded floats (nested like ``a``) for JSON, None for non-finite values."""
    a = np.asarray(a, np.float64)
    if a.ndim:
        return [_num(x, digits) for x in a]
    return round(float(a), digits) if np.isfinite(a) else None


def tracklets_json(results: dict[str, list[list[dict]]]) -> dict:
    """{clip_id: tracklets} -> the JSON of `weakpose.data.real.mqc.load_tracklets` (plus score, joints2d, conf)."""
    return {clip: [[{"frame_ts": int(e["frame_ts"]), "box": _num(e["box"], 2), "score": _num(e["score"], 4),
                     "joints2d": _num(e["joints2d"], 2), "conf": _num(e["conf"], 4)} for e in tr] for tr in tracks]
            for clip, tracks in results.items()}


def write_dataset(results: dict[str, list[list[dict]]], frames: dict[str, list[Frame]],
                  intrinsics: dict[str, Intrinsics], out: str | Path, crop_size: int = DEFAULT_CROP_SIZE,
                  crop_margin: float = DEFAULT_CROP_MARGIN, split: str = "train", source: str = "real",
                  meta: dict | None = None, overwrite: bool = False) -> Path:
    """One multi-view group per tracklet (view = position in it), no labels, ``K_crop = A K`` of each frame; the
    crop conventions of `weakpose.data.real.mqc.write_tracklets` (sequence = clip id, frame = frame index)."""
    ts, j2d, conf, w2c, group = [], [], [], [], 0
    with DatasetWriter(out, "tracklets-" + "+".join(list(results)[:3]) + ("+..." if len(results) > 3 else ""),
                       source, crop_size, crop_margin, meta=meta, overwrite=overwrite) as w:
        for clip, tracks in results.items():
            for track in tracks:
                for view, e in enumerate(track):
                    fr = frames[clip][e["frame"]]
                    img = read_image(fr.path)
                    K = intrinsics[clip].K(fr.index, img.shape[1], img.shape[0])
                    crop, A, K_crop = crop_view(img, K, *square_box(*e["box"]), crop_size, crop_margin)
                    w.add(Record(image=crop, K=K_crop, split=split, sequence=clip, frame=fr.index, group=group,
                                 view=view))
                    ts.append(fr.ts)
                    j2d.append(transform_points(A, e["joints2d"]))
                    conf.append(e["conf"])
                    if intrinsics[clip].w2c is not None:
                        w2c.append(intrinsics[clip].w2c[fr.index])
                group += 1
        save_extra(w, "timestamp_us", np.asarray(ts, np.int64))
        save_extra(w, "tracklet_joints2d", np.asarray(j2d, np.float32))
        save_extra(w, "tracklet_conf", np.asarray(conf, np.float32))
        if len(w2c) == len(ts):
            save_extra(w, "mqc_w2c", np.asarray(w2c, np.float64))
    return Path(out)


def _per_clip(value, clips: list[Path], what: str) -> list:
    """One entry per clip from a single value or a sequence of len(clips) values."""
    if value is None or isinstance(value, (str, Path, np.ndarray)):
        return [value] * len(clips)
    value = list(value)
    if len(value) == 1:
        return value * len(clips)
    if len(value) != len(clips):
        raise ValueError(f"{what}: expected one or {len(clips)} (one per clip) entries, got {len(value)}")
    return value


def make_tracklets(frames, intrinsics, checkpoint: str | Path | None = None, detections=None,
                   out: str | Path | None = None, *, pose_fn: PoseFn | None = None, detector_weights=None,
                   detector_arch: str | None = None, clip_ids: Sequence[str] | None = None,
                   params: Params | None = None, write_canonical: bool = True, crop_size: int = DEFAULT_CROP_SIZE,
                   crop_margin: float = DEFAULT_CROP_MARGIN, split: str = "train", source: str = "real",
                   overwrite: bool = False, device: str = "auto", batch_size: int = 64, verbose: bool = True) -> dict:
    """The whole pipeline (module docstring) on one or more clips.

    Args:
        frames: a clip folder, a folder of clip folders, or a sequence of them. intrinsics: a file, a folder of
            ``<clip_id>.*`` files, a (3, 3) / (F, 3, 3) px array, or one per clip.
        checkpoint: our 2D model (a trainer checkpoint); or ``pose_fn(image, boxes, frame) -> (joints (N, J, 2)
            px, conf (N, J))`` instead (tests inject an oracle). detections: COCO results file, a folder of
            ``<clip_id>.json``, or one file per clip; None runs the detector at ``detector_weights``.
        out: folder receiving tracklets.json, stats.json and (``write_canonical``) dataset/; None writes nothing.
        params: the thresholds (`Params`; default: the paper's).
    Returns:
        {"tracklets": {clip_id: [tracklet, ...]} (entries as `track_clip`), "stats": totals, "clip_stats":
        {clip_id: counts}, "params": Params, "paths": {name: Path}}.
    Raises FileNotFoundError / ValueError for missing or malformed inputs (before any heavy work); a missing
    detection source says how to provide one (`DETECTIONS_HINT`).
    """
    params = params or Params()
    if (checkpoint is None) == (pose_fn is None):
        raise ValueError("give exactly one of checkpoint (our 2D model) and pose_fn")
    ids, clip_frames, intr, dets = _clip_inputs(frames, intrinsics, detections, clip_ids, detector_weights)
    out = Path(out) if out is not None else None
    if out is not None and write_canonical and (out / "dataset").exists() and not overwrite:
        raise FileExistsError(f"{out / 'dataset'} exists; pass overwrite=True (--overwrite) to replace it")
    device = resolve_device(device)
    if pose_fn is None:
        pose_fn = ModelPoses(checkpoint, device, batch_size)
    detector = load_detector(detector_weights, detector_arch, device) if any(d is None for d in dets) else None
    results, clip_stats = {}, {}
    for c, d in zip(ids, dets):
        source_dets = read_coco_detections(d, clip_frames[c]) if d is not None else (
            lambda image: detect_people(detector, image))
        results[c], clip_stats[c] = track_clip(clip_frames[c], source_dets, pose_fn, params, progress=verbose)
    stats = merge_stats(list(clip_stats.values()))
    if verbose:
        print(format_stats(stats, params), flush=True)
    paths = {}
    if out is not None:
        info = {"params": dataclasses.asdict(params), "checkpoint": str(checkpoint) if checkpoint else "pose_fn",
                "detections": [str(d) if d is not None else f"detector {detector_weights}" for d in dets],
                "intrinsics": {c: i.source for c, i in intr.items()}}
        paths = _write_outputs(out, results, stats, clip_stats, info, clip_frames, intr, write_canonical, crop_size,
                               crop_margin, split, source, overwrite)
    return {"tracklets": results, "stats": stats, "clip_stats": clip_stats, "params": params, "paths": paths}


def _clip_inputs(frames, intrinsics, detections, clip_ids, detector_weights):
    """Resolve and check the inputs of `make_tracklets`: (clip ids, {id: frames}, {id: Intrinsics}, [detections
    file or None per clip]). Raises before any heavy work."""
    folders = clip_folders(frames)
    ids = [f.name for f in folders] if clip_ids is None else list(clip_ids)
    if len(ids) != len(folders) or len(set(ids)) != len(ids):
        raise ValueError(f"need one unique clip id per clip folder ({len(folders)}), got {ids}")
    clip_frames = {c: list_frames(f) for c, f in zip(ids, folders)}
    intr = {c: load_intrinsics(i, clip_frames[c], c) for c, i in zip(ids, _per_clip(intrinsics, folders, "intrinsics"))}
    dets = _per_clip(detections, folders, "detections")
    dets = [Path(d) / f"{c}.json" if d is not None and Path(d).is_dir() else d for c, d in zip(ids, dets)]
    if len({str(d) for d in dets if d is not None}) < sum(d is not None for d in dets):
        raise ValueError(f"one detections file for several of the {len(folders)} clips: give a folder of "
                         "<clip_id>.json or one file per clip")
    for c, d in zip(ids, dets):
        if d is None and detector_weights is None:
            raise ValueError(f"no person detections for clip {c!r}. {DETECTIONS_HINT}")
        if d is not None and not Path(d).is_file():
            raise FileNotFoundError(f"detections file {d} not found. {DETECTIONS_HINT}")
    return ids, clip_frames, intr, dets


def _write_outputs(out: Path, results, stats, clip_stats, info, clip_frames, intr, write_canonical, crop_size,
                   crop_margin, split, source, overwrite) -> dict[str, Path]:
    """tracklets.json, stats.json and (``write_canonical``) the canonical dataset/ under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"tracklets": out / "tracklets.json", "stats": out / "stats.json"}
    paths["tracklets"].write_text(json.dumps(tracklets_json(results)))
    paths["stats"].write_text(json.dumps({**info, "totals": stats, "clips": clip_stats}, indent=1))
    if write_canonical and stats["tracklets"]:
        paths["dataset"] = write_dataset(results, clip_frames, intr, out / "dataset", crop_size, crop_margin, split,
                                         source, {"generator": "weakpose.tracklets", **info, "stats": stats},
                                         overwrite)
    elif write_canonical:
        if overwrite and (out / "dataset").exists():
            check_replaceable(out / "dataset")  # only a weakpose dataset or an empty folder is deleted
            shutil.rmtree(out / "dataset")
        print(f"[weakpose] no tracklet survived the filters: no dataset written at {out / 'dataset'}")
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m weakpose.tracklets", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="inputs: frames (one folder per clip), intrinsics per clip, person boxes (--detections or\n"
               "  --detector-weights), a weakpose checkpoint for the 2D poses.\n"
               "outputs (under --out): tracklets.json (also the --tracklets input of weakpose-prepare mqc),\n"
               "  stats.json (what each filter dropped) and dataset/ (unlabelled multi-view groups, canonical format).")
    p.add_argument("--frames", nargs="+", required=True, type=Path,
                   help="clip folder(s) of frames, or folder(s) of clip folders")
    p.add_argument("--intrinsics", nargs="+", required=True, type=Path,
                   help="MQC camera .txt, JSON or .npy K (one, or one per clip), or a folder of <clip_id>.* files")
    p.add_argument("--out", required=True, type=Path, help="receives tracklets.json, stats.json, dataset/")
    p.add_argument("--checkpoint", required=True, type=Path, help="weakpose 2D model (trainer checkpoint)")
    p.add_argument("--detections", nargs="+", type=Path,
                   help="COCO results JSON (one per clip) or a folder of <clip_id>.json; image_id = frame file stem")
    p.add_argument("--detector-weights", type=Path, help="local torchvision detector state dict (no download)")
    p.add_argument("--detector-arch", choices=DETECTOR_ARCHS)
    p.add_argument("--clip-id", nargs="+", help="clip ids (default: the frame folder names)")
    for f in dataclasses.fields(Params):
        p.add_argument("--" + f.name.replace("_", "-"), type=int if f.type == "int" else float, default=f.default)
    p.add_argument("--no-dataset", action="store_true", help="write tracklets.json and stats.json only")
    p.add_argument("--crop-size", type=int, default=DEFAULT_CROP_SIZE)
    p.add_argument("--crop-margin", type=float, default=DEFAULT_CROP_MARGIN)
    p.add_argument("--split", default="train", choices=("train", "val", "test"))
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--batch-size", type=int, default=64)
    a = p.parse_args(argv)
    try:
        make_tracklets(a.frames, a.intrinsics, a.checkpoint, a.detections, a.out,
                       detector_weights=a.detector_weights, detector_arch=a.detector_arch, clip_ids=a.clip_id,
                       params=Params(**{f.name: getattr(a, f.name) for f in dataclasses.fields(Params)}),
                       write_canonical=not a.no_dataset, crop_size=a.crop_size, crop_margin=a.crop_margin,
                       split=a.split, overwrite=a.overwrite, device=a.device, batch_size=a.batch_size)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise SystemExit(f"weakpose.tracklets: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
