"""MannequinChallenge (Li et al., CVPR 2019) camera files and person tracklets -> canonical multi-view groups
(data-formats.md Sec. 4).

Camera files: the release ``MannequinChallenge.tar`` unpacks to ``<root>/{train,validation,test}/<clip_id>.txt``,
one text file per YouTube clip: line 1 the video URL, then one line per frame of 19 whitespace-separated numbers::

    timestamp_us  fx fy cx cy  0 0  r11 r12 r13 t1 r21 r22 r23 t2 r31 r32 r33 t3

(fx, fy, cx, cy normalised by the image size; [R | t] world->camera, row-major). Pixel intrinsics of a W x H frame:
``K = [[W fx, 0, W cx], [0, H fy, H cy], [0, 0, 1]]`` (exactly the spec's formula; whether the normalised principal
point refers to pixel corners or centres is not stated, an ambiguity of at most 0.5 px).

Frames: the user downloads the videos and extracts the listed frames (e.g. seeking to ``timestamp / 1000`` ms, as the
public ``extract.py`` does). Default layout, one JPEG per camera-file row::

    <frames_root>/<clip_id>/<timestamp_us>.jpg

Any other: ``frame_pattern``, a `str.format` pattern relative to ``frames_root`` with the fields ``clip_id``,
``split`` (camera-file folder), ``timestamp`` (µs), ``index`` (0-based row in the camera file) and ``index1``.

Tracklets (people are not annotated): produced by ``python -m weakpose.tracklets`` as JSON
``{clip_id: [[{"frame_ts": int µs, "box": [x0, y0, x1, y1]}, ...], ...]}``, one list per person track, boxes tight
around the person in full-frame pixels. `write_tracklets` turns each tracklet into one multi-view group (the paper's
static-pose assumption: the frames of one tracklet are views of one pose); ``view`` = position in the tracklet. The
nominal box is square at the box centre, with the person spanning 75 % of it. Rows have no 2D or 3D labels and
``K_crop = A K`` per frame.

Extrinsics: the [R | t] of every row is kept as-is in ``<out>/extra/mqc_w2c.npy`` (N, 3, 4). The poses come from
SLAM with an arbitrary per-clip scale, so t is **not** in mm and the rows get ``has_extrinsics`` False, unless
``extrinsics_as_mm`` is set (then R, t go into the R / t columns unchanged). ``extra/timestamp_us.npy`` (N,) int64
holds each row's timestamp; the ``frame`` column is the row index in the camera file.

Splits: the paper trains on the train and validation clips ("~3300 videos"), so by default both map to "train" and
test to "test" (``split_of``); the source folder is kept in the ``subject`` column, the clip id in ``sequence``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from weakpose.progress import progress_bar
from weakpose.camera import DEFAULT_CROP_MARGIN, square_box
from weakpose.data.format import DatasetWriter, Record
from weakpose.data.real.prepare import (DEFAULT_CROP_SIZE, add_common_args, crop_view, read_image, read_json, save_extra)

SOURCE_SPLITS: tuple[str, ...] = ("train", "validation", "test")
DEFAULT_SPLIT_OF: dict[str, str] = {"train": "train", "validation": "train", "test": "test"}
DEFAULT_FRAME_PATTERN = "{clip_id}/{timestamp}.jpg"
NUM_COLUMNS = 19
TRACKLETS_HINT = "person tracklets come from `python -m weakpose.tracklets`"


@dataclass(frozen=True)
class Clip:
    """One MannequinChallenge camera file, F frames.

    timestamps: (F,) int64 µs from the start of the video; intrinsics: (F, 4) normalised (fx, fy, cx, cy);
    w2c: (F, 3, 4) world->camera [R | t] (t in arbitrary SLAM units).
    """

    clip_id: str
    split: str
    url: str
    path: Path
    timestamps: np.ndarray
    intrinsics: np.ndarray
    w2c: np.ndarray

    def K(self, width: int, height: int) -> np.ndarray:
        """(F, 3, 3) pixel intrinsics for frames of width x height pixels."""
        return pixel_K(self.intrinsics, width, height)


def pixel_K(intrinsics: np.ndarray, width: int, height: int) -> np.ndarray:
    """Normalised (..., 4) (fx, fy, cx, cy) -> (..., 3, 3) pixel K = [[W fx, 0, W cx], [0, H fy, H cy], [0, 0, 1]]."""
    fx, fy, cx, cy = np.moveaxis(np.asarray(intrinsics, np.float64), -1, 0)
    K = np.zeros(fx.shape + (3, 3))
    K[..., 0, 0], K[..., 0, 2] = width * fx, width * cx
    K[..., 1, 1], K[..., 1, 2] = height * fy, height * cy
    K[..., 2, 2] = 1.0
    return K


def parse_clip(path: str | Path, split: str = "") -> Clip:
    """Read one camera file (Sec. 4). Raises FileNotFoundError, or ValueError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MannequinChallenge camera file {path} not found")
    lines = path.read_text().splitlines()
    url = lines[0].strip() if lines else ""
    if not url.startswith("http"):
        raise ValueError(f"{path} line 1: expected the video URL, found {url!r}")
    rows, stamps = [], []
    for n, line in enumerate(lines[1:], start=2):
        tok = line.split()
        if not tok:
            continue
        if len(tok) != NUM_COLUMNS:
            raise ValueError(f"{path} line {n}: expected {NUM_COLUMNS} numbers, found {len(tok)}")
        try:
            vals = [float(t) for t in tok]
        except ValueError:
            raise ValueError(f"{path} line {n}: expected {NUM_COLUMNS} numbers, found {line.strip()!r}") from None
        if not np.isfinite(vals).all() or vals[0] != int(vals[0]) or vals[0] < 0:
            raise ValueError(f"{path} line {n}: expected an integer timestamp (µs) and finite numbers, "
                             f"found {line.strip()!r}")
        stamps.append(int(vals[0]))
        rows.append(vals)
    if not rows:
        raise ValueError(f"{path}: expected at least one frame line after the URL, found none")
    ts = np.asarray(stamps, np.int64)
    if len(np.unique(ts)) != len(ts):
        raise ValueError(f"{path}: timestamps must be unique, found duplicates")
    a = np.asarray(rows)
    return Clip(clip_id=path.stem, split=split, url=url, path=path, timestamps=ts, intrinsics=a[:, 1:5],
                w2c=a[:, 7:19].reshape(-1, 3, 4))


def load_clips(root: str | Path, splits: Sequence[str] = ("train", "validation")) -> dict[str, Clip]:
    """Read every ``<root>/<split>/*.txt``. Returns {clip_id: Clip}."""
    root = Path(root)
    clips: dict[str, Clip] = {}
    for split in splits:
        d = root / split
        if not d.is_dir():
            raise FileNotFoundError(f"MannequinChallenge split folder {d} not found (expected {root}/"
                                    f"{{{','.join(SOURCE_SPLITS)}}}/*.txt)")
        for f in progress_bar(sorted(d.glob("*.txt")), desc=f"MQC {split} camera files", unit="clip", disable=None):
            clip = parse_clip(f, split)
            if clip.clip_id in clips:
                raise ValueError(f"{f}: clip id {clip.clip_id!r} also in {clips[clip.clip_id].path}")
            clips[clip.clip_id] = clip
    return clips


def load_tracklets(source: str | Path | Mapping) -> dict[str, list[list[tuple[int, np.ndarray]]]]:
    """Read and check tracklets (a JSON file or the already-parsed dict).

    Returns {clip_id: [track, ...]} with each track a list of (frame_ts µs, box (4,) x0 y0 x1 y1 pixels).
    """
    name = "tracklets" if isinstance(source, Mapping) else str(source)
    if not isinstance(source, Mapping):
        source = read_json(source, "tracklets file", TRACKLETS_HINT)
    if not isinstance(source, Mapping):
        raise ValueError(f"{name}: expected {{clip_id: [[{{frame_ts, box}}, ...], ...]}}, "
                         f"found {type(source).__name__}")
    out = {}
    for clip_id, tracks in source.items():
        if not isinstance(tracks, list):
            raise ValueError(f"{name} clip {clip_id}: expected a list of tracks, found {type(tracks).__name__}")
        out[clip_id] = []
        for k, track in enumerate(tracks):
            if not isinstance(track, list) or not track:
                raise ValueError(f"{name} clip {clip_id} track {k}: expected a non-empty list of frames")
            items = []
            for e in track:
                ok = isinstance(e, Mapping) and isinstance(e.get("frame_ts"), int) and "box" in e
                box = np.asarray(e["box"], np.float64) if ok else None
                if not ok or box.shape != (4,) or not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
                    raise ValueError(f"{name} clip {clip_id} track {k}: expected {{'frame_ts': int, 'box': "
                                     f"[x0, y0, x1, y1]}} with x1 > x0, y1 > y0, found {e!r}")
                items.append((e["frame_ts"], box))
            out[clip_id].append(items)
    return out


def frame_path(frames_root: str | Path, clip: Clip, index: int, pattern: str = DEFAULT_FRAME_PATTERN) -> Path:
    """Where the frame of camera-file row ``index`` of ``clip`` lives."""
    return Path(frames_root) / pattern.format(clip_id=clip.clip_id, split=clip.split,
                                              timestamp=int(clip.timestamps[index]), index=index, index1=index + 1)


def write_tracklets(clips: Mapping[str, Clip], tracklets: str | Path | Mapping, out: str | Path,
                    frames_root: str | Path, frame_pattern: str = DEFAULT_FRAME_PATTERN,
                    split_of: Mapping[str, str] = DEFAULT_SPLIT_OF, extrinsics_as_mm: bool = False,
                    crop_size: int = DEFAULT_CROP_SIZE, crop_margin: float = DEFAULT_CROP_MARGIN,
                    overwrite: bool = False) -> Path:
    """Write one multi-view group per tracklet (see the module docstring). Returns the dataset directory.

    Raises ValueError if a tracklet names an unknown clip or a timestamp its camera file does not list, and
    FileNotFoundError / ValueError for a missing or unreadable frame.
    """
    tracks = load_tracklets(tracklets)
    name = str(tracklets) if not isinstance(tracklets, Mapping) else "tracklets"
    w2c, stamps = [], []
    meta = {"dataset": "mannequinchallenge", "frames_root": str(frames_root), "frame_pattern": frame_pattern,
            "tracklets": name, "split_of": dict(split_of), "extrinsics_as_mm": extrinsics_as_mm,
            "extrinsics": "extra/mqc_w2c.npy: SLAM world->camera [R|t] as in the camera files, arbitrary scale"}
    group = 0
    with DatasetWriter(out, "mannequinchallenge", "real", crop_size, crop_margin, meta=meta,
                       overwrite=overwrite) as w:
        for clip_id, clip_tracks in progress_bar(tracks.items(), desc="MQC tracklets", unit="clip", disable=None):
            if clip_id not in clips:
                raise ValueError(f"{name}: clip {clip_id!r} has no camera file among the {len(clips)} loaded")
            clip = clips[clip_id]
            if clip.split not in split_of:
                raise ValueError(f"{clip.path}: source split {clip.split!r} not in split_of {dict(split_of)}")
            row_of = {int(t): i for i, t in enumerate(clip.timestamps)}
            for k, track in enumerate(clip_tracks):
                for view, (ts, box) in enumerate(track):
                    if ts not in row_of:
                        raise ValueError(f"{name} clip {clip_id} track {k}: frame_ts {ts} is not a timestamp of "
                                         f"{clip.path}")
                    i = row_of[ts]
                    img = read_image(frame_path(frames_root, clip, i, frame_pattern))
                    K = clip.K(img.shape[1], img.shape[0])[i]
                    center, side = square_box(*box)
                    crop, _, K_crop = crop_view(img, K, center, side, crop_size, crop_margin)
                    R, t = (clip.w2c[i, :, :3], clip.w2c[i, :, 3]) if extrinsics_as_mm else (None, None)
                    w.add(Record(image=crop, K=K_crop, split=split_of[clip.split], subject=clip.split,
                                 sequence=clip_id, frame=i, group=group, view=view, R=R, t=t))
                    w2c.append(clip.w2c[i])
                    stamps.append(ts)
                group += 1
        save_extra(w, "mqc_w2c", np.asarray(w2c, np.float64).reshape(-1, 3, 4))
        save_extra(w, "timestamp_us", np.asarray(stamps, np.int64))
    return Path(out)


def _run(args: argparse.Namespace) -> Path:
    if args.tracklets is None:
        raise SystemExit("mqc: --tracklets is required. MannequinChallenge has no person labels: "
                         f"{TRACKLETS_HINT} (run it on the extracted frames first; it writes JSON "
                         '{clip_id: [[{"frame_ts": int, "box": [x0, y0, x1, y1]}, ...], ...]}).')
    if args.frames_root is None:
        raise SystemExit("mqc: --frames-root is required (the folder of frames extracted from the videos)")
    clips = load_clips(args.root, args.splits)
    return write_tracklets(clips, args.tracklets, args.out, args.frames_root, frame_pattern=args.frame_pattern,
                           extrinsics_as_mm=args.extrinsics_as_mm, crop_size=args.crop_size,
                           crop_margin=args.crop_margin, overwrite=args.overwrite)


def register_cli(subparsers) -> None:
    """Add the ``mqc`` sub-command to a `prepare` parser."""
    p = subparsers.add_parser("mqc", help="MannequinChallenge clips + person tracklets",
                              description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--root", type=Path, required=True,
                   help="unpacked MannequinChallenge.tar (train/ validation/ test/ of <clip_id>.txt)")
    p.add_argument("--splits", nargs="+", default=["train", "validation"], choices=SOURCE_SPLITS)
    p.add_argument("--frames-root", type=Path, help="extracted video frames (required)")
    p.add_argument("--frame-pattern", default=DEFAULT_FRAME_PATTERN,
                   help="frame files relative to --frames-root (fields clip_id, split, timestamp, index, index1)")
    p.add_argument("--tracklets", type=Path, help=f"tracklets JSON ({TRACKLETS_HINT})")
    p.add_argument("--extrinsics-as-mm", action="store_true",
                   help="store the SLAM [R|t] as metric extrinsics (they are not: arbitrary scale)")
    add_common_args(p)
    p.set_defaults(func=_run)
