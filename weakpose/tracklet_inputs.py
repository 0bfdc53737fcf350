"""Inputs of the tracklet pipeline (`weakpose.tracklets`): video frames, camera intrinsics, person detections
(COCO results files or a local torchvision detector, never downloaded). Formats: the `weakpose.tracklets` docstring.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from weakpose.data.real import mqc


PERSON = 1  # COCO category id
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
DETECTOR_ARCHS = ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
                  "fasterrcnn_mobilenet_v3_large_320_fpn", "keypointrcnn_resnet50_fpn")
DETECTIONS_HINT = ("Give person boxes as a COCO results JSON (--detections FILE or a folder of <clip_id>.json: "
                   '[{"image_id": <frame file stem>, "category_id": 1, "bbox": [x, y, w, h], "score": s}, ...]) '
                   "from any person detector, or a local torchvision detector state dict (--detector-weights FILE "
                   f"[--detector-arch {{{','.join(DETECTOR_ARCHS)}}}]); weakpose never downloads weights.")


@dataclass(frozen=True)
class Frame:
    """One video frame: index (0-based position), ts (frame_ts: integer file stem, else the index), path."""

    index: int
    ts: int
    path: Path

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
            try:
                source = np.load(path, allow_pickle=False)  # an object array is refused, never unpickled
            except (ValueError, OSError, EOFError) as e:
                raise ValueError(f"{path}: expected a numeric .npy array of (3, 3) pixel intrinsics ({e})") from None
        elif path.suffix == ".json":
            try:
                source = json.loads(path.read_text())
            except (ValueError, OSError) as e:
                raise ValueError(f"{path}: not valid JSON ({e}); expected a 3x3 matrix or {{\"K\": matrix}}") from None
            source = source.get("K") if isinstance(source, dict) else source
        else:
            raise ValueError(f"{path}: expected an MQC camera file (.txt), .json or .npy intrinsics")
    try:
        K = np.asarray(source, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected numbers, a (3, 3) pixel K or one per frame, got "
                         f"{type(source).__name__} {str(source)[:60]!r}") from None
    if K.shape == (3, 3):
        K = np.broadcast_to(K, (len(frames), 3, 3))
    if K.shape != (len(frames), 3, 3):
        raise ValueError(f"{name}: expected one (3, 3) K or one per frame ({len(frames)}, 3, 3), got {K.shape}")
    if not np.isfinite(K).all() or not np.allclose(K[:, 2], [0, 0, 1]) or (np.abs(np.linalg.det(K)) < 1e-9).any():
        raise ValueError(f"{name}: K must be finite pixel intrinsics with last row [0, 0, 1]")
    if (K[:, 0, 0] <= 0).any() or (K[:, 1, 1] <= 0).any():
        i = int(np.argmax((K[:, 0, 0] <= 0) | (K[:, 1, 1] <= 0)))
        raise ValueError(f"{name}: focal lengths must be > 0 (a negative focal mirrors the 3D), got fx, fy = "
                         f"{K[i, 0, 0]:g}, {K[i, 1, 1]:g} for frame {i}")
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
