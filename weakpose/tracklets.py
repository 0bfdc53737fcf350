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
5. the surviving tracklets are written as tracklets JSON, the format ``python -m weakpose.data.prepare mqc
   --tracklets`` reads (`weakpose.data.mqc`), and as a canonical dataset: one multi-view group per tracklet, view
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
from tqdm.auto import tqdm

from weakpose import skeleton
from weakpose.data import mqc
from weakpose.data.crops import crop_affine, crop_image, transform_points
from weakpose.data.format import DEFAULT_CROP_MARGIN, DatasetWriter, Record
from weakpose.data.prepare import DEFAULT_CROP_SIZE, crop_view, read_image, save_extra, square_box
from weakpose.model import load_checkpoint
from weakpose.trainer import resolve_device

PERSON = 1  # COCO category id
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# OKS fall-off kappa = 2 sigma per joint: COCO's keypoint sigmas on our joints (pelvis, spine: the hips'; thorax:
# the shoulders'; nose: the nose's; head top: the ears').
KAPPA = 2 * np.array([.107, .107, .087, .089, .107, .087, .089, .107, .079, .026, .035, .079, .072, .062, .079, .072,
                      .062])
DETECTOR_ARCHS = ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
                  "fasterrcnn_mobilenet_v3_large_320_fpn", "keypointrcnn_resnet50_fpn")
DETECTIONS_HINT = ("Give person boxes as a COCO results JSON (--detections FILE or a folder of <clip_id>.json: "
                   '[{"image_id": <frame file stem>, "category_id": 1, "bbox": [x, y, w, h], "score": s}, ...]) '
                   "from any person detector, or a local torchvision detector state dict (--detector-weights FILE "
                   f"[--detector-arch {{{','.join(DETECTOR_ARCHS)}}}]); weakpose never downloads weights.")
PoseFn = Callable[[np.ndarray, np.ndarray, "Frame"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Frame:
    """One video frame: index (0-based position), ts (frame_ts: integer file stem, else the index), path."""

    index: int
    ts: int
    path: Path


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
def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (N, 4) and (M, 4), x0 y0 x1 y1 px -> (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


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


# --------------------------------------------------------------------------------------------- inputs
def _key(x) -> int | str:
    s = str(x)
    return int(s) if isinstance(x, (int, np.integer)) or s.isdigit() else s


def list_frames(folder: str | Path) -> list[Frame]:
    """The frames of one clip folder (module docstring: order and frame_ts). Raises FileNotFoundError / ValueError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frames folder {folder} not found")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ValueError(f"{folder}: no frame images ({', '.join(IMAGE_SUFFIXES)})")
    numeric = all(p.stem.isdigit() for p in files)
    files.sort(key=(lambda p: int(p.stem)) if numeric else (lambda p: p.name))
    if len({_key(p.stem) for p in files}) != len(files):
        raise ValueError(f"{folder}: two frame files share a stem (e.g. 1.jpg and 01.png); stems must be unique")
    return [Frame(i, int(p.stem) if numeric else i, p) for i, p in enumerate(files)]


def clip_folders(frames: str | Path | Sequence) -> list[Path]:
    """One folder per clip: each given folder with images is a clip, one with only sub-folders holds clips."""
    out = []
    for f in [frames] if isinstance(frames, (str, Path)) else frames:
        f = Path(f)
        if not f.is_dir():
            raise FileNotFoundError(f"frames folder {f} not found")
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in f.iterdir() if p.is_file()):
            out.append(f)
        else:
            out += sorted(p for p in f.iterdir() if p.is_dir())
    if not out:
        raise ValueError(f"no clip folders with frame images in {frames}")
    return out


@dataclass(frozen=True)
class Intrinsics:
    """Per-frame intrinsics of one clip: either ``normalised`` (F, 4) MQC (fx, fy, cx, cy) scaled by each frame's
    size, or ``pixels`` (F, 3, 3); ``w2c`` (F, 3, 4) SLAM world->camera from an MQC file, else None."""

    source: str
    normalised: np.ndarray | None = None
    pixels: np.ndarray | None = None
    w2c: np.ndarray | None = None

    def K(self, index: int, width: int, height: int) -> np.ndarray:
        """(3, 3) pixel K of frame ``index`` for a width x height frame."""
        if self.normalised is not None:
            return mqc.pixel_K(self.normalised[index], width, height)
        return self.pixels[index]


def load_intrinsics(source, frames: Sequence[Frame], clip_id: str = "") -> Intrinsics:
    """Intrinsics of one clip from an MQC .txt, a JSON / .npy file, a folder holding ``<clip_id>.*`` or an array
    (3, 3) / (F, 3, 3) px (module docstring). Raises FileNotFoundError or ValueError saying what was expected."""
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        dirs = [Path(source), *sorted(d for d in Path(source).iterdir() if d.is_dir())]
        hits = [d / f"{clip_id}{s}" for d in dirs for s in (".txt", ".json", ".npy") if (d / f"{clip_id}{s}").is_file()]
        if not hits:
            raise FileNotFoundError(f"no intrinsics {clip_id}.txt|.json|.npy in {source} or its sub-folders")
        source = hits[0]
    name = str(source) if isinstance(source, (str, Path)) else "intrinsics array"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"intrinsics file {path} not found")
        if path.suffix == ".txt":
            clip = mqc.parse_clip(path)
            row = {int(t): i for i, t in enumerate(clip.timestamps)}
            missing = [f.path.name for f in frames if f.ts not in row]
            if missing:
                raise ValueError(f"{path}: frames {missing[:3]} have stems that are not timestamps (µs) listed in "
                                 "this MQC camera file; name frames <timestamp_us>.jpg")
            idx = [row[f.ts] for f in frames]
            return Intrinsics(str(path), normalised=clip.intrinsics[idx], w2c=clip.w2c[idx])
        if path.suffix == ".npy":
            source = np.load(path)
        elif path.suffix == ".json":
            source = json.loads(path.read_text())
            source = source.get("K") if isinstance(source, dict) else source
        else:
            raise ValueError(f"{path}: expected an MQC camera file (.txt), .json or .npy intrinsics")
    K = np.asarray(source, np.float64)
    if K.shape == (3, 3):
        K = np.broadcast_to(K, (len(frames), 3, 3))
    if K.shape != (len(frames), 3, 3):
        raise ValueError(f"{name}: expected one (3, 3) K or one per frame ({len(frames)}, 3, 3), got {K.shape}")
    if not np.isfinite(K).all() or not np.allclose(K[:, 2], [0, 0, 1]) or (np.abs(np.linalg.det(K)) < 1e-9).any():
        raise ValueError(f"{name}: K must be finite pixel intrinsics with last row [0, 0, 1]")
    return Intrinsics(name, pixels=np.array(K))


def read_coco_detections(path: str | Path, frames: Sequence[Frame], category: int = PERSON
                         ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Person boxes per frame from a COCO results JSON (module docstring). Returns, per frame, boxes (N, 4) x0 y0
    x1 y1 px and scores (N,). Raises FileNotFoundError (with `DETECTIONS_HINT`) or ValueError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"detections file {path} not found. {DETECTIONS_HINT}")
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        if not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
            raise ValueError(f"{path}: expected a COCO results list or {{'images': [...], 'annotations': [...]}}")
        stem = {im["id"]: _key(Path(im["file_name"]).stem) for im in data["images"]}
        dets, key = data["annotations"], (lambda d: stem.get(d["image_id"]))
    elif isinstance(data, list):
        dets, key = data, (lambda d: _key(d["image_id"]))
    else:
        raise ValueError(f"{path}: expected a COCO results list, found {type(data).__name__}")
    index = {_key(f.path.stem): f.index for f in frames}
    out: list[list] = [[] for _ in frames]
    unmatched = 0
    for n, d in enumerate(dets):
        box = np.asarray(d.get("bbox", ()), np.float64) if isinstance(d, dict) else np.zeros(0)
        if not isinstance(d, dict) or "image_id" not in d or box.shape != (4,) or not np.isfinite(box).all() \
                or (box[2:] <= 0).any():
            raise ValueError(f"{path} entry {n}: expected {{'image_id', 'category_id', 'bbox': [x, y, w, h] with "
                             f"w, h > 0, 'score'}}, found {d!r}")
        if d.get("category_id", category) != category:
            continue
        f = index.get(key(d))
        if f is None:
            unmatched += 1
            continue
        out[f].append([*box[:2], *(box[:2] + box[2:]), float(d.get("score", 1.0))])
    if unmatched and unmatched == sum(1 for d in dets if d.get("category_id", category) == category):
        raise ValueError(f"{path}: no person detection names a frame of {frames[0].path.parent} (image_id must be "
                         f"the frame file stem, e.g. {frames[0].path.stem!r})")
    if unmatched:
        print(f"[weakpose] {path}: {unmatched} person detections name no frame of {frames[0].path.parent}; ignored")
    return [(np.asarray(o, np.float64).reshape(-1, 5)[:, :4], np.asarray(o, np.float64).reshape(-1, 5)[:, 4])
            for o in out]


def load_detector(weights: str | Path, arch: str | None = None, device: str | torch.device = "cpu"):
    """A torchvision person detector from a local state dict (never downloaded). ``arch``: one of `DETECTOR_ARCHS`;
    None = keypointrcnn_resnet50_fpn if the state dict has keypoint heads, else fasterrcnn_resnet50_fpn."""
    from torchvision.models import detection

    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"detector weights {path} not found. {DETECTIONS_HINT}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    if not isinstance(state, dict) or "roi_heads.box_predictor.cls_score.weight" not in state:
        raise ValueError(f"{path}: expected a torchvision Faster/Keypoint R-CNN state dict")
    if arch is None:
        arch = DETECTOR_ARCHS[-1] if any(k.startswith("roi_heads.keypoint") for k in state) else DETECTOR_ARCHS[0]
    if arch not in DETECTOR_ARCHS:
        raise ValueError(f"detector arch must be one of {DETECTOR_ARCHS}, got {arch!r}")
    classes = state["roi_heads.box_predictor.cls_score.weight"].shape[0]
    kw = dict(weights=None, weights_backbone=None, num_classes=classes)
    if arch.startswith("keypoint"):
        kw["num_keypoints"] = state["roi_heads.keypoint_predictor.kps_score_lowres.weight"].shape[1]
    model = getattr(detection, arch)(**kw)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path} does not fit torchvision {arch} ({str(e).splitlines()[0]}); pass the right "
                         f"detector arch, one of {DETECTOR_ARCHS}") from None
    return model.eval().to(device)


@torch.no_grad()
def detect_people(detector, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run a torchvision detector on an (H, W, 3) uint8 RGB frame. Returns person boxes (N, 4) x0 y0 x1 y1 px and
    scores (N,) (COCO label 1)."""
    dev = next(detector.parameters()).device
    out = detector([torch.from_numpy(image).to(dev).permute(2, 0, 1).float() / 255.0])[0]
    person = out["labels"] == PERSON
    return out["boxes"][person].double().cpu().numpy(), out["scores"][person].double().cpu().numpy()


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
    for fr in tqdm(frames, desc=f"poses {frames[0].path.parent.name}", disable=not progress, leave=False):
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
    """{clip_id: tracklets} -> the JSON of `weakpose.data.mqc.load_tracklets` (plus score, joints2d, conf)."""
    return {clip: [[{"frame_ts": int(e["frame_ts"]), "box": _num(e["box"], 2), "score": _num(e["score"], 4),
                     "joints2d": _num(e["joints2d"], 2), "conf": _num(e["conf"], 4)} for e in tr] for tr in tracks]
            for clip, tracks in results.items()}


def write_dataset(results: dict[str, list[list[dict]]], frames: dict[str, list[Frame]],
                  intrinsics: dict[str, Intrinsics], out: str | Path, crop_size: int = DEFAULT_CROP_SIZE,
                  crop_margin: float = DEFAULT_CROP_MARGIN, split: str = "train", source: str = "real",
                  meta: dict | None = None, overwrite: bool = False) -> Path:
    """One multi-view group per tracklet (view = position in it), no labels, ``K_crop = A K`` of each frame; the
    crop conventions of `weakpose.data.mqc.write_tracklets` (sequence = clip id, frame = frame index)."""
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
                   detector_arch: str | None = None, clip_ids: Sequence[str] | None = None, tau: float = 0.5,
                   max_low_fraction: float = 0.5, min_length: int = 5, min_det_score: float = 0.5,
                   iou_weight: float = 0.5, min_similarity: float = 0.3, max_gap: int = 0,
                   write_canonical: bool = True, crop_size: int = DEFAULT_CROP_SIZE,
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
        tau, max_low_fraction, min_length, min_det_score, iou_weight, min_similarity, max_gap: `Params`.
    Returns:
        {"tracklets": {clip_id: [tracklet, ...]} (entries as `track_clip`), "stats": totals, "clip_stats":
        {clip_id: counts}, "params": Params, "paths": {name: Path}}.
    Raises FileNotFoundError / ValueError for missing or malformed inputs (before any heavy work); a missing
    detection source says how to provide one (`DETECTIONS_HINT`).
    """
    params = Params(tau, max_low_fraction, min_length, min_det_score, iou_weight, min_similarity, max_gap)
    if (checkpoint is None) == (pose_fn is None):
        raise ValueError("give exactly one of checkpoint (our 2D model) and pose_fn")
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
        out.mkdir(parents=True, exist_ok=True)
        paths["tracklets"] = out / "tracklets.json"
        paths["tracklets"].write_text(json.dumps(tracklets_json(results)))
        info = {"params": dataclasses.asdict(params), "checkpoint": str(checkpoint) if checkpoint else "pose_fn",
                "detections": [str(d) if d is not None else f"detector {detector_weights}" for d in dets],
                "intrinsics": {c: i.source for c, i in intr.items()}}
        paths["stats"] = out / "stats.json"
        paths["stats"].write_text(json.dumps({**info, "totals": stats, "clips": clip_stats}, indent=1))
        if write_canonical and stats["tracklets"]:
            paths["dataset"] = write_dataset(results, clip_frames, intr, out / "dataset", crop_size, crop_margin,
                                             split, source, {"generator": "weakpose.tracklets", **info,
                                                             "stats": stats}, overwrite)
        elif write_canonical:
            if overwrite and (out / "dataset").exists():
                shutil.rmtree(out / "dataset")
            print(f"[weakpose] no tracklet survived the filters: no dataset written at {out / 'dataset'}")
    return {"tracklets": results, "stats": stats, "clip_stats": clip_stats, "params": params, "paths": paths}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m weakpose.tracklets", description=__doc__.split("\n\n")[0])
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
                       **{f.name: getattr(a, f.name) for f in dataclasses.fields(Params)},
                       write_canonical=not a.no_dataset, crop_size=a.crop_size, crop_margin=a.crop_margin,
                       split=a.split, overwrite=a.overwrite, device=a.device, batch_size=a.batch_size)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise SystemExit(f"weakpose.tracklets: {e}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
