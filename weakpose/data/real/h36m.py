"""Human3.6M -> canonical format (`weakpose.data.format`), following data-formats.md Sec. 1 ("spec Sec. 1.x").

Two label sources, one image tree ``<root>/processed/<S>/<Action>-<n>/imageSequence[-undistorted]/<cam>/img_%06d.jpg``
(file number = 0-based frame index + 1, spec Sec. 1.2):

(a) learnable-triangulation ``human36m-multiview-labels-GTbboxes.npy`` (spec Sec. 1.2): cameras from the file,
    17 world joints in order (B), mm; squared GT boxes (TLBR, half-open pixel ranges, drawn on the distorted frames).
(b) VideoPose3D ``data_3d_h36m.npz`` (spec Sec. 1.3): 32 world joints in metres, cameras from VP's hard-coded
    tables (`h36m_cameras.vp_camera`); boxes from the projected joints (`crops.box_from_joints`). VP keys are the
    raw file names ("Directions 1", "Photo", "WalkDog", ...); `vp_action_key` maps folders to keys.

One output group = one multi-view instant (subject, sequence, frame); ``view`` = camera index 0..3 (spec Sec. 1.0).
Per row: 3D in the camera frame, mm (X_cam = R X_world + t), joints in our order (`skeleton.remap`), an ideal
pinhole crop with exact intrinsics K_crop = A K (the H36M lens distortion, spec Sec. 1.5, is removed per crop unless
the frames are already undistorted) and 2D = pinhole projection of the stored 3D with K_crop.
Columns: subject "S9"; action the base action ("Greeting", trials merged as in the H36M protocols); sequence
"S9/Greeting-2"; frame the 0-based frame index.

Split (spec Sec. 1.0): train S1, S5, S6, S7, S8; test S9, S11. Damaged data (spec Sec. 1.0): camera 54138969 of
S11 Directions-2 is always absent; S9 Greeting-2, SittingDown-2, Waiting-1 are dropped only when
``with_damaged_actions=False`` (every shipped learnable-triangulation config keeps them). Frame subsampling keeps
frames whose index is a multiple of ``every_n`` (train 5 = 10 fps as SPIN; test 64 = the Protocol-2 test frames
that h36m-fetch extracts). Only frames present on disk are used.
"""
from __future__ import annotations

import argparse
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from weakpose import skeleton
from weakpose.progress import progress_bar
from weakpose import camera as crops
from weakpose.camera import DEFAULT_CROP_MARGIN, crop_intrinsics, project
from weakpose.data.format import DatasetWriter, Record, encode_jpeg
from weakpose.data.real.h36m_cameras import (ACTION_NAMES, ACTIONS, CAMERA_NAMES, IMAGE_SIZE, SUBJECTS, Camera,  # noqa: F401
                                        undistort_pixels, undistorted_crop, vp_action_folders,
                                        vp_action_key, vp_camera)
from weakpose.data.real import safe_npy

TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
DAMAGED_TEST_SEQUENCES = frozenset({("S9", "Greeting-2"), ("S9", "SittingDown-2"), ("S9", "Waiting-1")})
MISSING_VIEWS: dict[tuple[str, str], frozenset[int]] = {("S11", "Directions-2"): frozenset({0})}  # corrupt video
DEFAULT_EVERY_N_TRAIN = 5
DEFAULT_EVERY_N_TEST = 64
DEFAULT_CROP_SIZE = 384

CAMERAS_DTYPE = np.dtype([("R", "<f4", (3, 3)), ("t", "<f4", (3, 1)), ("K", "<f4", (3, 3)), ("dist", "<f4", (5,))])
TABLE_DTYPE = np.dtype([("subject_idx", "|i1"), ("action_idx", "|i1"), ("frame_idx", "<i2"),
                        ("keypoints", "<f4", (17, 3)), ("bbox_by_camera_tlbr", "<i2", (4, 4))])
LABEL_KEYS = ("subject_names", "camera_names", "action_names", "cameras", "table")


def split_of(subject: str) -> str:
    """"train" for S1, S5, S6, S7, S8; "test" for S9, S11 (spec Sec. 1.0)."""
    if subject in TRAIN_SUBJECTS:
        return "train"
    if subject in TEST_SUBJECTS:
        return "test"
    raise ValueError(f"unknown Human3.6M subject {subject!r}; expected one of {list(SUBJECTS)}")


@dataclass(frozen=True)
class View:
    """One camera of an instant. center: (2,) and side: nominal square person box in pixels of the ideal pinhole
    full frame (K of `camera`); image: the frame file."""

    view: int
    camera: Camera
    image: Path
    center: np.ndarray
    side: float


@dataclass(frozen=True)
class Instant:
    """One multi-view time instant. joints_world: (17, 3) world mm in our order; frame: 0-based."""

    subject: str
    folder: str
    frame: int
    joints_world: np.ndarray
    views: tuple[View, ...]


class ImageTree:
    """The frame tree ``<root>/processed/<S>/<seq>/imageSequence[-undistorted]/<camera>/img_%06d.jpg`` (spec Sec.
    1.2), with one cached directory listing per (subject, sequence, camera)."""

    def __init__(self, root: Path, undistorted: bool):
        self.root, self.undistorted = Path(root), undistorted
        if not (self.root / "processed").is_dir():
            raise FileNotFoundError(f"{self.root / 'processed'} not found: expected the image tree "
                                    "<root>/processed/<S>/<Action>-<n>/imageSequence/<camera>/img_%06d.jpg")
        self._listing: dict[Path, set[str] | None] = {}

    def folder(self, subject: str, seq: str, camera: str) -> Path:
        sub = "imageSequence-undistorted" if self.undistorted else "imageSequence"
        return self.root / "processed" / subject / seq / sub / camera

    def files(self, subject: str, seq: str, camera: str) -> set[str] | None:
        d = self.folder(subject, seq, camera)
        if d not in self._listing:
            self._listing[d] = set(os.listdir(d)) if d.is_dir() else None
        return self._listing[d]

    def image(self, subject: str, seq: str, camera: str, frame: int) -> Path:
        name = f"img_{frame + 1:06d}.jpg"
        files = self.files(subject, seq, camera)
        path = self.folder(subject, seq, camera) / name
        if files is None or name not in files:
            raise FileNotFoundError(f"{path} not found: frame {frame} of {subject}/{seq} camera {camera} "
                                    "(expected img_%06d.jpg numbered frame index + 1)")
        return path


def _keep(subject: str, seq: str, frame: int, every_n: dict[str, int], with_damaged_actions: bool) -> bool:
    if not with_damaged_actions and (subject, seq) in DAMAGED_TEST_SEQUENCES:
        return False
    return frame % every_n[split_of(subject)] == 0


def _box_center_side(tlbr: np.ndarray, cam: Camera) -> tuple[np.ndarray, float]:
    """Squared TLBR box of the distorted frame (half-open pixel ranges) -> centre in the pinhole frame, side."""
    top, left, bottom, right = (float(v) for v in tlbr)
    center = undistort_pixels(np.array([(left + right - 1) / 2, (top + bottom - 1) / 2]), cam.K, cam.dist)
    return center, max(right - left, bottom - top)


def load_labels(path: str | os.PathLike) -> dict:
    """Read and validate a learnable-triangulation labels file (spec Sec. 1.2); returns its dict."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: expected learnable-triangulation's "
                                "human36m-multiview-labels-GTbboxes.npy (data-formats.md Sec. 1.2)")
    arr = safe_npy.load_npy(path)  # a pickled dict by design: restricted to numpy / builtin types, never runs code
    d = arr.item() if isinstance(arr, np.ndarray) and arr.dtype == object and arr.shape == () else None
    if not isinstance(d, dict):
        found = f"{arr.dtype} array of shape {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        raise ValueError(f"{path}: expected a 0-d object array holding a dict (np.save of a dict), found {found}")
    missing = [k for k in LABEL_KEYS if k not in d]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}; expected {list(LABEL_KEYS)}, found {sorted(d)}")
    for s in d["subject_names"]:
        if s not in SUBJECTS:
            raise ValueError(f"{path}: unknown subject {s!r} in subject_names; expected names from {list(SUBJECTS)}")
    if list(d["camera_names"]) != list(CAMERA_NAMES):
        raise ValueError(f"{path}: camera_names must be {list(CAMERA_NAMES)}, found {list(d['camera_names'])}")
    for a in d["action_names"]:
        if a not in ACTION_NAMES:
            raise ValueError(f"{path}: unknown action {a!r} in action_names; expected names from {list(ACTION_NAMES)}")
    cams, table = d["cameras"], d["table"]
    shape = (len(d["subject_names"]), len(CAMERA_NAMES))
    if not isinstance(cams, np.ndarray) or cams.dtype != CAMERAS_DTYPE or cams.shape != shape:
        found = f"{cams.dtype.descr} {cams.shape}" if isinstance(cams, np.ndarray) else type(cams).__name__
        raise ValueError(f"{path}: 'cameras' must be a {shape} array of dtype {CAMERAS_DTYPE.descr}, found {found}")
    if not all(np.isfinite(cams[f]).all() for f in CAMERAS_DTYPE.names):
        raise ValueError(f"{path}: 'cameras' holds non-finite values")
    if not isinstance(table, np.ndarray) or table.ndim != 1 or table.dtype != TABLE_DTYPE:
        found = f"{table.dtype.descr} {table.shape}" if isinstance(table, np.ndarray) else type(table).__name__
        kp = table.dtype.fields.get("keypoints") if isinstance(table, np.ndarray) and table.dtype.names else None
        hint = "" if kp is None or kp[0].shape == (17, 3) else \
            f" (keypoints hold {kp[0].shape} per row, expected 17 joints x 3 in learnable-triangulation order)"
        raise ValueError(f"{path}: 'table' must be a 1-D array of dtype {TABLE_DTYPE.descr}, found {found}{hint}")
    for col, n in (("subject_idx", shape[0]), ("action_idx", len(d["action_names"]))):
        bad = (table[col] < 0) | (table[col] >= n)
        if bad.any():
            raise ValueError(f"{path}: table row {int(np.argmax(bad))} has {col} {table[col][bad][0]}, "
                             f"expected 0..{n - 1}")
    if (table["frame_idx"] < 0).any() or not np.isfinite(table["keypoints"]).all():
        raise ValueError(f"{path}: table holds negative frame_idx or non-finite keypoints")
    if len(table) and np.abs(table["keypoints"]).max() < 50:
        raise ValueError(f"{path}: keypoints look like metres (all |x| < 50); expected world millimetres")
    return d


def instants_from_labels(labels: dict, tree: ImageTree, path: Path, every_n: dict[str, int],
                         with_damaged_actions: bool, subjects: tuple[str, ...] | None,
                         stats: dict) -> list[Instant]:
    """Source (a): one Instant per kept table row; views with an empty box (or known damaged) are absent."""
    names, actions = list(labels["subject_names"]), list(labels["action_names"])
    for s in subjects or ():
        if s not in names:
            raise ValueError(f"{path}: subject {s} requested but the file holds {names}")
    cams = labels["cameras"]
    cameras = [[Camera(R=c["R"].astype(np.float64), t=c["t"].astype(np.float64)[:, 0], K=c["K"].astype(np.float64),
                       dist=c["dist"].astype(np.float64), name=CAMERA_NAMES[v], size=IMAGE_SIZE[CAMERA_NAMES[v]])
                for v, c in enumerate(row)] for row in cams]
    out = []
    for row in labels["table"]:
        subject, seq, frame = names[row["subject_idx"]], actions[row["action_idx"]], int(row["frame_idx"])
        if (subjects and subject not in subjects) or not _keep(subject, seq, frame, every_n, with_damaged_actions):
            continue
        views = []
        for v, tlbr in enumerate(row["bbox_by_camera_tlbr"]):
            if v in MISSING_VIEWS.get((subject, seq), ()):
                stats["views_dropped_damaged"] += 1
            elif tlbr[2] <= tlbr[0] or tlbr[3] <= tlbr[1]:
                stats["views_dropped_empty_box"] += 1
            else:
                cam = cameras[row["subject_idx"]][v]
                center, side = _box_center_side(tlbr, cam)
                views.append(View(v, cam, tree.image(subject, seq, cam.name, frame), center, side))
        if views:
            world, _ = skeleton.remap(row["keypoints"].astype(np.float64), "lt17")
            out.append(Instant(subject, seq, frame, world, tuple(views)))
    return out


def load_vp_positions(path: str | os.PathLike) -> dict[str, dict[str, np.ndarray]]:
    """Read and validate VideoPose3D's data_3d_h36m.npz (spec Sec. 1.3): subject -> key -> (N, 32, 3) metres."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: expected VideoPose3D's data_3d_h36m.npz (data-formats.md Sec. 1.3)")
    files = safe_npy.npz_members(path)
    if "positions_3d" not in files:
        raise ValueError(f"{path}: expected key 'positions_3d', found {files}")
    arr = safe_npy.load_npz_member(path, "positions_3d")  # a pickled dict by design: restricted unpickling
    pos = arr.item() if arr.dtype == object and arr.shape == () else None
    if not isinstance(pos, dict):
        raise ValueError(f"{path}: positions_3d must be a 0-d object array holding a dict, "
                         f"found {arr.dtype} {arr.shape}")
    for subject, seqs in pos.items():
        if subject not in SUBJECTS:
            raise ValueError(f"{path}: unknown subject {subject!r}; expected names from {list(SUBJECTS)}")
        if not isinstance(seqs, dict):
            raise ValueError(f"{path}: positions_3d[{subject!r}] must be a dict action -> (N, 32, 3), found "
                             f"{type(seqs).__name__}")
        for key, a in seqs.items():
            a = np.asarray(a)
            if a.ndim != 3 or a.shape[1:] != (32, 3) or a.dtype.kind != "f":
                raise ValueError(f"{path}: {subject}/{key!r} must be float (N, 32, 3) (32 raw H36M joints), "
                                 f"found {a.dtype} {a.shape}")
            if not np.isfinite(a).all() or (a.size and np.abs(a).max() > 50):
                raise ValueError(f"{path}: {subject}/{key!r} must hold finite world coordinates in metres "
                                 f"(|x| < 50), found max |x| = {np.abs(a).max()}")
    return pos


def instants_from_vp(positions: dict, tree: ImageTree, path: Path, every_n: dict[str, int], with_damaged_actions: bool,
                     subjects: tuple[str, ...] | None, action_map: dict | None, stats: dict) -> list[Instant]:
    """Source (b): instants of the frames on disk (listed in the first existing camera folder, as KF does)."""
    for s in subjects or ():
        if s not in positions:
            raise ValueError(f"{path}: subject {s} requested but the file holds {sorted(positions)}")
    out = []
    for subject in [s for s in SUBJECTS if s in positions and (not subjects or s in subjects)]:
        folders = vp_action_folders(subject, action_map)
        unknown = sorted(set(positions[subject]) - set(folders))
        if unknown:
            raise ValueError(f"{path}: no sequence folder known for {subject}/{unknown[0]!r}; known keys "
                             f"{sorted(folders)} (pass action_map / --action-map to add one)")
        for key in sorted(positions[subject], key=lambda k: ACTION_NAMES.index(folders[k])):
            seq, world = folders[key], np.asarray(positions[subject][key], np.float64) * 1000.0
            if not with_damaged_actions and (subject, seq) in DAMAGED_TEST_SEQUENCES:
                continue  # excluded as a whole: its frames need not be on disk
            listing = next((f for f in (tree.files(subject, seq, c) for c in CAMERA_NAMES) if f is not None), None)
            if listing is None:
                raise FileNotFoundError(f"{tree.folder(subject, seq, CAMERA_NAMES[0]).parent} has no camera folder: "
                                        f"frames of {subject}/{key!r} were not extracted")
            frames = sorted(int(m.group(1)) - 1 for m in map(re.compile(r"img_(\d{6})\.jpg$").match, listing) if m)
            stats["frames_without_mocap"] += sum(f >= len(world) for f in frames)
            cams = [vp_camera(subject, v) for v in range(len(CAMERA_NAMES))]
            for frame in frames:
                if frame >= len(world) or not _keep(subject, seq, frame, every_n, with_damaged_actions):
                    continue
                joints, _ = skeleton.remap(world[frame], "h36m32")
                views = []
                for v, cam in enumerate(cams):
                    if v in MISSING_VIEWS.get((subject, seq), ()):
                        stats["views_dropped_damaged"] += 1
                        continue
                    uv = project(joints @ cam.R.T + cam.t, cam.K)
                    center, side = crops.box_from_joints(uv)
                    views.append(View(v, cam, tree.image(subject, seq, cam.name, frame), center, side))
                out.append(Instant(subject, seq, frame, joints, tuple(views)))
    return out


def _read_image(path: Path, cam: Camera) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: unreadable image (expected a JPEG frame of camera {cam.name})")
    w, h = cam.size
    if img.shape[:2] != (h, w):
        raise ValueError(f"{path}: expected a {w}x{h} frame of camera {cam.name} (full resolution, the "
                         f"intrinsics are in full-frame pixels), found {img.shape[1]}x{img.shape[0]}")
    return img


def render_instant(inst: Instant, group: int, crop_size: int, crop_margin: float,
                   undistorted: bool) -> list[Record]:
    """All views of one instant -> Records (crop as JPEG bytes, K_crop, camera-frame 3D mm, crop-pixel 2D)."""
    recs = []
    for v in inst.views:
        cam = v.camera
        X = inst.joints_world @ cam.R.T + cam.t  # (17, 3) camera frame, mm
        if not (X[:, 2] > 0).all():
            raise ValueError(f"{v.image}: the labelled joints of {inst.subject}/{inst.folder} frame {inst.frame} lie "
                             f"behind camera {cam.name}; check the units (world mm) and the camera parameters")
        A = crops.crop_affine(v.center, v.side, crop_size, crop_margin)
        K_crop = crop_intrinsics(A, cam.K)
        img = _read_image(v.image, cam)
        crop = crops.crop_image(img, A, crop_size) if undistorted else \
            undistorted_crop(img, K_crop, cam.K, cam.dist, crop_size)
        recs.append(Record(image=encode_jpeg(crop[..., ::-1]), K=K_crop, split=split_of(inst.subject),
                           subject=inst.subject, action=inst.folder.rsplit("-", 1)[0],
                           sequence=f"{inst.subject}/{inst.folder}", frame=inst.frame, group=group, view=v.view,
                           R=cam.R, t=cam.t, joints2d=project(X, K_crop), joints3d=X))
    return recs


def convert_h36m(root: str | os.PathLike, out: str | os.PathLike, *, labels: str | os.PathLike | None = None,
                 vp_npz: str | os.PathLike | None = None, every_n_train: int = DEFAULT_EVERY_N_TRAIN,
                 every_n_test: int = DEFAULT_EVERY_N_TEST, crop_size: int = DEFAULT_CROP_SIZE,
                 crop_margin: float = DEFAULT_CROP_MARGIN, undistorted: bool = False,
                 with_damaged_actions: bool = True, subjects: tuple[str, ...] | None = None,
                 action_map: dict[str, dict[str, str]] | None = None, num_workers: int | None = None,
                 overwrite: bool = False, progress: bool = True) -> Path:
    """Convert Human3.6M into the canonical format at ``out``; returns the dataset directory.

    Exactly one of ``labels`` (source (a)) and ``vp_npz`` (source (b)) is given. ``undistorted``: read
    ``imageSequence-undistorted`` frames (already pinhole with the same K) and skip the per-crop undistortion.
    ``subjects``: restrict to these (default: every subject of the source). ``action_map``: (b) only, subject ->
    {VP key: folder} overrides. A failure leaves nothing at ``out`` (DatasetWriter's atomic rename).
    """
    if (labels is None) == (vp_npz is None):
        raise ValueError("give exactly one label source: labels (learnable-triangulation .npy) or vp_npz")
    for name, n in (("every_n_train", every_n_train), ("every_n_test", every_n_test)):
        if int(n) < 1:
            raise ValueError(f"{name} must be >= 1, got {n}")
    for s in subjects or ():
        split_of(s)
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    every_n = {"train": int(every_n_train), "test": int(every_n_test)}
    tree = ImageTree(Path(root), undistorted)
    stats = {"views_dropped_empty_box": 0, "views_dropped_damaged": 0, "frames_without_mocap": 0}
    subjects = tuple(subjects) if subjects else None
    if labels is not None:
        src = Path(labels)
        instants = instants_from_labels(load_labels(src), tree, src, every_n, with_damaged_actions, subjects, stats)
    else:
        src = Path(vp_npz)
        instants = instants_from_vp(load_vp_positions(src), tree, src, every_n, with_damaged_actions, subjects,
                                    action_map, stats)
    if not instants:
        raise ValueError(f"{src}: no frame selected (subjects {subjects or 'all'}, every_n {every_n}, frames on disk "
                         f"under {tree.root / 'processed'})")
    meta = {"dataset": "Human3.6M", "spec": "data-formats.md Sec. 1", "label_source":
            "learnable-triangulation" if labels is not None else "videopose3d", "label_file": str(src.resolve()),
            "image_root": str(Path(root).resolve()), "undistorted_input": undistorted,
            "lens_distortion": "none in the stored crops (pinhole with K)", "camera_names": list(CAMERA_NAMES),
            "every_n": every_n, "with_damaged_actions": with_damaged_actions, "num_instants": len(instants),
            "units": {"joints3d": "mm, camera frame", "t": "mm", "joints2d": "crop pixels"}, **stats}
    workers = max(1, num_workers if num_workers is not None else min(8, os.cpu_count() or 1))

    def render(i: int) -> list[Record]:
        return render_instant(instants[i], i, crop_size, crop_margin, undistorted)

    with DatasetWriter(out, "h36m", "real", crop_size, crop_margin, meta=meta, overwrite=overwrite) as writer, \
            ThreadPoolExecutor(workers) as pool, \
            progress_bar(total=len(instants), unit="instant", desc="h36m", disable=not progress) as bar:
        chunk = 16 * workers
        for start in range(0, len(instants), chunk):
            for recs in pool.map(render, range(start, min(start + chunk, len(instants)))):
                writer.extend(recs)
                bar.update()
    return Path(out)


def register_cli(subparsers) -> argparse.ArgumentParser:
    """Add the ``h36m`` subcommand to an argparse subparsers object (used by weakpose.data.real.prepare); its ``func``
    returns the dataset directory."""
    from weakpose.data.real.prepare import add_common_args  # only the CLI needs prepare; convert_h36m does not

    p = subparsers.add_parser("h36m", help="convert Human3.6M (learnable-triangulation labels or VideoPose3D npz)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="Human3.6M root holding processed/<S>/<Action>-<n>/imageSequence/")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--labels", help="learnable-triangulation human36m-multiview-labels-GTbboxes.npy")
    src.add_argument("--vp-npz", help="VideoPose3D data_3d_h36m.npz")
    p.add_argument("--every-n-train", type=int, default=DEFAULT_EVERY_N_TRAIN,
                   help="train: keep frames with index %% n == 0 (default 5 = 10 fps)")
    p.add_argument("--every-n-test", type=int, default=DEFAULT_EVERY_N_TEST,
                   help="test: keep frames with index %% n == 0 (default 64 = Protocol-2 frames)")
    p.add_argument("--undistorted", action="store_true", help="read imageSequence-undistorted/ (already pinhole)")
    dmg = p.add_mutually_exclusive_group()
    dmg.add_argument("--with-damaged-actions", dest="with_damaged_actions", action="store_true", default=True,
                     help="keep S9 Greeting-2, SittingDown-2, Waiting-1 in test (default, as KF configs)")
    dmg.add_argument("--without-damaged-actions", dest="with_damaged_actions", action="store_false",
                     help="drop those three S9 sequences (learnable-triangulation's constructor default)")
    p.add_argument("--subjects", default=None, help="comma-separated subset, e.g. S1,S9 (default: all in the source)")
    p.add_argument("--action-map", default=None, help="(--vp-npz) JSON {subject: {VP key: folder}} overrides")
    p.add_argument("--workers", type=int, default=None, help="image threads (default min(8, CPUs))")
    add_common_args(p)  # --out, --crop-size, --crop-margin, --overwrite
    p.set_defaults(func=run_cli)
    return p


def run_cli(args: argparse.Namespace) -> Path:
    """Run the ``h36m`` subcommand from parsed arguments."""
    action_map = None
    if args.action_map:
        p = Path(args.action_map)
        if not p.is_file():
            raise FileNotFoundError(f"{p} not found: expected a JSON file {{subject: {{VP key: folder}}}}")
        action_map = json.loads(p.read_text())
    return convert_h36m(args.root, args.out, labels=args.labels, vp_npz=args.vp_npz,
                        every_n_train=args.every_n_train, every_n_test=args.every_n_test, crop_size=args.crop_size,
                        crop_margin=args.crop_margin, undistorted=args.undistorted,
                        with_damaged_actions=args.with_damaged_actions,
                        subjects=tuple(args.subjects.split(",")) if args.subjects else None,
                        action_map=action_map, num_workers=args.workers, overwrite=args.overwrite)
