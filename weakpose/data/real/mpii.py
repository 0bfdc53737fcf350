"""MPII Human Pose (Andriluka et al., CVPR 2014) in the HRNet / Simple-Baselines JSON form -> canonical format,
and the PCKh metric (data-formats.md Sec. 3).

Layout (HRNet README)::

    <root>/annot/train.json, valid.json      (also trainval.json, test.json, gt_valid.mat)
    <root>/images/<9-digit>.jpg

Each JSON file is a list of person dicts: ``image`` (file name), ``center`` [x, y] (1-based pixels), ``scale``
(box side / 200 px), ``joints`` 16 x [x, y] (1-based, [-1, -1] = unlabeled), ``joints_vis`` 16 ints (1 = labeled).
Files -> splits: train.json -> "train", valid.json -> "val" (test.json -> "test", for completeness).

The nominal person box follows HRNet's loader exactly: ``center[1] += 15 * scale``, ``scale *= 1.25``, then ``-1``
on centre and joints (1-based MATLAB -> 0-based pixels); the box is ``200 * scale`` pixels square at ``center``
(HRNet's 256 x 256 input covers exactly this box, the person filling roughly 75 % of it, as in the paper).

Joints are mapped with ``skeleton.remap(.., "mpii16")``: our spine and neck_nose do not exist in MPII and are stored
NaN with ``vis2d`` False (never guessed); MPII's upper_neck has no counterpart and is dropped. A joint with
``joints_vis == 0`` is stored NaN / not visible. Rows are 2D-only: no 3D, no extrinsics, ``group`` -1.

Intrinsics: MPII has none. Each row stores a nominal K of the full image, focal = max(W, H) pixels, principal point at
the image centre ((W - 1) / 2, (H - 1) / 2), mapped to the crop (K_crop = A K). It is not a calibration: the 2D
heatmap loss, the only loss MPII rows feed, does not use K. Nothing 3D may be derived from it.

``<out>/extra/image_names.json`` lists the source image name of every row.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from weakpose import skeleton
from weakpose.progress import progress_bar
from weakpose.skeleton import JOINT_NAMES_MPII16
from weakpose.camera import DEFAULT_CROP_MARGIN
from weakpose.data.format import DatasetWriter, Record
from weakpose.data.real.prepare import DEFAULT_CROP_SIZE, add_common_args, crop_view, read_image, read_json

NUM_JOINTS = len(JOINT_NAMES_MPII16)
SPLIT_OF_FILE: dict[str, str] = {"train": "train", "valid": "val", "test": "test"}


def load_annotations(path: str | Path) -> list[dict]:
    """Read one HRNet MPII JSON file and apply HRNet's box adjustments.

    Returns one dict per person: ``image`` (str), ``center`` (2,) 0-based pixels of the nominal box centre,
    ``box_side`` (float, pixels), ``joints`` (16, 2) 0-based pixels or None (no joints in the file),
    ``joints_vis`` (16,) bool. Raises FileNotFoundError, or ValueError naming the file, the entry and the field.
    """
    path = Path(path)
    entries = read_json(path, "MPII annotation file")
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of person dicts, found {type(entries).__name__}")
    out = []
    for i, e in enumerate(entries):
        where = f"{path} entry {i}"
        if not isinstance(e, dict) or not {"image", "center", "scale"} <= set(e):
            raise ValueError(f"{where}: expected a dict with image, center, scale (joints, joints_vis), found "
                             f"{sorted(e) if isinstance(e, dict) else type(e).__name__}")
        try:
            center = np.asarray(e["center"], np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: center expected [x, y] pixels, found {e['center']!r}") from None
        try:
            scale = float(e["scale"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: scale expected a number > 0 (person height / 200 px), found "
                             f"{e['scale']!r}") from None
        if center.shape != (2,) or not np.isfinite(center).all() or center[0] == -1:
            raise ValueError(f"{where}: center expected [x, y] pixels, found {e['center']!r}")
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"{where}: scale expected > 0, found {e['scale']!r}")
        center[1] += 15 * scale  # HRNet: move the box centre down a little ...
        scale *= 1.25  # ... and enlarge it
        rec = {"image": str(e["image"]), "center": center - 1, "box_side": 200.0 * scale,
               "joints": None, "joints_vis": np.zeros(NUM_JOINTS, bool)}
        if "joints" in e:
            try:
                joints = np.asarray(e["joints"], np.float64)
                vis = np.asarray(e.get("joints_vis", []), np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: joints expected ({NUM_JOINTS}, 2) numbers and joints_vis "
                                 f"{NUM_JOINTS} flags") from None
            if joints.shape != (NUM_JOINTS, 2):
                raise ValueError(f"{where}: joints expected ({NUM_JOINTS}, 2), found {joints.shape}")
            if vis.shape != (NUM_JOINTS,):
                raise ValueError(f"{where}: joints_vis expected {NUM_JOINTS} flags, found shape {vis.shape}")
            rec["joints"], rec["joints_vis"] = joints - 1, vis.astype(bool) & ~np.all(joints == -1, axis=1)
        out.append(rec)
    return out


def nominal_K(width: int, height: int) -> np.ndarray:
    """(3, 3) nominal intrinsics of an uncalibrated image: focal max(W, H) px, principal point at the centre."""
    f = float(max(width, height))
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def convert(root: str | Path, out: str | Path, files: Sequence[str] = ("train", "valid"),
            crop_size: int = DEFAULT_CROP_SIZE, crop_margin: float = DEFAULT_CROP_MARGIN,
            overwrite: bool = False) -> Path:
    """Convert ``<root>/annot/<file>.json`` for each of ``files`` (train -> "train", valid -> "val",
    test -> "test") with images from ``<root>/images/``. Returns the dataset directory."""
    root = Path(root)
    unknown = [f for f in files if f not in SPLIT_OF_FILE]
    if unknown:
        raise ValueError(f"MPII files must be among {sorted(SPLIT_OF_FILE)}, got {unknown}")
    names: list[str] = []
    meta = {"dataset": "mpii", "root": str(root), "files": list(files),
            "intrinsics": "nominal (focal = max(W, H), principal point at the image centre): not a calibration"}
    with DatasetWriter(out, "mpii", "real", crop_size, crop_margin, meta=meta, overwrite=overwrite) as w:
        for fname in files:
            split = SPLIT_OF_FILE[fname]
            cached_path, img = None, None
            for rec in progress_bar(load_annotations(root / "annot" / f"{fname}.json"), desc=f"MPII {fname}",
                            unit="person", disable=None):
                path = root / "images" / rec["image"]
                if path != cached_path:  # persons of one image are consecutive in the JSON files
                    img, cached_path = read_image(path), path
                K = nominal_K(img.shape[1], img.shape[0])
                crop, A, K_crop = crop_view(img, K, rec["center"], rec["box_side"], crop_size, crop_margin)
                j2 = vis = None
                if rec["joints"] is not None:
                    src = np.where(rec["joints_vis"][:, None], rec["joints"], np.nan)
                    j2, present = skeleton.remap(src, "mpii16")
                    j2 = j2 @ A[:2, :2].T + A[:2, 2]
                    vis = present & np.isfinite(j2).all(-1)
                stem = Path(rec["image"]).stem
                w.add(Record(image=crop, K=K_crop, split=split, subject="", action="", sequence="",
                             frame=int(stem) if stem.isdigit() else len(names), joints2d=j2, vis2d=vis))
                names.append(rec["image"])
        d = w.tmp_dir / "extra"
        d.mkdir(exist_ok=True)
        (d / "image_names.json").write_text(json.dumps(names))
    return Path(out)


def load_gt_valid(path: str | Path) -> dict:
    """Read HRNet's ``annot/gt_valid.mat`` (scipy.io, Sec. 3).

    Returns (N persons first) ``jnt_missing`` (N, 16) bool, ``pos_gt_src`` (N, 16, 2) 1-based pixels and
    ``headboxes_src`` (N, 2, 2) (corner, xy) pixels. Raises FileNotFoundError or ValueError naming the file.
    """
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MPII gt_valid.mat {path} not found")
    try:
        mat = loadmat(str(path))
    except Exception as e:
        raise ValueError(f"{path}: not a readable MATLAB v5 file ({e})") from None
    for key in ("jnt_missing", "pos_gt_src", "headboxes_src"):
        if key not in mat:
            raise ValueError(f"{path}: field {key!r} missing")
    miss, pos, head = (np.asarray(mat[k]) for k in ("jnt_missing", "pos_gt_src", "headboxes_src"))
    n = miss.shape[-1] if miss.ndim == 2 else -1
    for name, a, shape in (("jnt_missing", miss, (16, n)), ("pos_gt_src", pos, (16, 2, n)),
                           ("headboxes_src", head, (2, 2, n))):
        if n < 1 or a.shape != shape or not np.issubdtype(a.dtype, np.number):
            raise ValueError(f"{path}: {name} expected shape {shape} numbers (16 joints), found {a.shape} {a.dtype}")
    return {"jnt_missing": miss.T.astype(bool), "pos_gt_src": pos.transpose(2, 0, 1).astype(np.float64),
            "headboxes_src": head.transpose(2, 0, 1).astype(np.float64)}


def _run(args: argparse.Namespace) -> Path:
    return convert(args.root, args.out, files=args.files, crop_size=args.crop_size, crop_margin=args.crop_margin,
                   overwrite=args.overwrite)


def register_cli(subparsers) -> None:
    """Add the ``mpii`` sub-command to a `prepare` parser."""
    p = subparsers.add_parser("mpii", help="MPII Human Pose (HRNet JSON annotations)",
                              description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--root", type=Path, required=True, help="folder holding annot/ and images/")
    p.add_argument("--files", nargs="+", default=["train", "valid"], choices=sorted(SPLIT_OF_FILE),
                   help="annotation files to convert (train -> train, valid -> val, test -> test)")
    add_common_args(p)
    p.set_defaults(func=_run)
