"""MPI-INF-3DHP (Mehta et al., 3DV 2017) -> canonical format (data-formats.md Sec. 2).

Training set (Sec. 2.1-2.3), ``<root>/S{1..8}/Seq{1,2}/``:

* ``annot.mat`` (MATLAB v5, `scipy.io.loadmat`): ``annot2`` / ``annot3`` / ``univ_annot3`` are (14, 1) cell arrays,
  one (N, 56) resp. (N, 84) float array per camera (28 joints, pixels resp. camera-frame mm); ``frames`` (N, 1)
  0-based frame numbers; ``cameras`` (1, 14).
* ``camera.calibration`` (Skeletool text, 14 blocks): per camera ``size W H``, ``intrinsic`` and ``extrinsic``
  (4 x 4 row-major; extrinsic = world->camera, t in mm).
* Frames decoded from ``imageSequence/video_{c}.avi`` by the user. Default layout (SPIN's, 1-based numbers)::

      <root>/S{s}/Seq{q}/imageFrames/video_{c}/frame_{frame+1:06d}.jpg

  Any other layout: ``frame_pattern``, a `str.format` pattern relative to ``root`` with the fields ``subject`` (int),
  ``seq`` (int), ``camera`` (int), ``frame`` (0-based) and ``frame1`` (1-based); e.g. mmpose's flat layout
  ``"images/S{subject}_Seq{seq}_Cam{camera}_{frame1:06d}.jpg"``.

One multi-view group per kept (subject, sequence, frame): one row per camera, ``view`` = camera id, world->camera
extrinsics stored (``has_extrinsics``). Annotations are sliced to the official frame count of the sequence (Sec. 2.1
table) when longer. ``every`` keeps frames whose 0-based number is a multiple of it.

Cameras: the 8 "VNect" cameras (0, 1, 2, 4, 5, 6, 7, 8) by default. The paper trains on "five chest height cameras"
without naming them; pass them explicitly with ``cameras`` (which five is **unverified**).

Test set (Sec. 2.5), ``<test_root>/TS{1..6}/annot_data.mat`` (MATLAB v7.3 = HDF5, read with h5py) and
``TS*/imageSequence/img_{frame+1:06d}.jpg``: only frames with ``valid_frame == 1`` (2,929 in all), split "test",
single views (group -1), action = activity name, subject = sequence = "TS<k>".

What is stored as 3D and 2D, and why:

* ``joints3d`` = ``annot3`` (camera frame, mm) for train and test rows, remapped to our 17 joints. ``annot3`` is the
  geometry the images show: with the camera intrinsics it projects onto the image (Sec. 2.3 consistency check).
* ``joints2d`` = the exact projection of the stored ``joints3d`` with the stored crop intrinsics, so that
  ``joints2d == project(joints3d, K)`` holds for every row. ``annot2`` is only used to check that the intrinsics are
  right: the median distance between ``annot2`` and that projection must stay below ``max_reproj_px`` per sequence
  and camera (else ValueError); the medians are stored in ``meta["reprojection_px"]``.
* ``univ_annot3`` is rescaled to the universal H36M skeleton height, so it does **not** project onto the image and
  cannot be the geometric 3D; but the official protocol evaluates against it (Sec. 2.6). It is stored, remapped to our
  order, in the sidecar ``<out>/extra/univ_joints3d.npy`` (N, 17, 3) float32 mm, one row per dataset row; test
  metrics must use it.

Test intrinsics (Sec. 2.5 table, computed here from the official ``.calib`` numbers): ``test_intrinsics="square"``
(default) uses fx = fy, as public code does; ``"aspect"`` multiplies fy by the calib file's pixelAspect. Which one is
right is not verified; the medians of both are recorded in ``meta["reprojection_px"]``. TS5-6 have OpenCV lens
distortion: their crops are resampled through the distortion model into exact pinhole crops (`prepare.crop_view`),
so the stored K has no distortion. ``annot2`` is assumed to be in the distorted (as recorded) image, and is compared
with the distorted projection (assumption: unverified).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from weakpose import skeleton
from weakpose.progress import progress_bar
from weakpose import camera as crops
from weakpose.camera import DEFAULT_CROP_MARGIN
from weakpose.data.format import DatasetWriter, Record
from weakpose.camera import project
from weakpose.data.real.prepare import DEFAULT_CROP_SIZE, add_common_args, crop_view, read_image, save_extra

TRAIN_CAMERAS: tuple[int, ...] = (0, 1, 2, 4, 5, 6, 7, 8)
NUM_CAMERAS = 14
SUBJECTS: tuple[int, ...] = tuple(range(1, 9))
SEQUENCES: tuple[int, ...] = (1, 2)
TEST_SEQUENCES: tuple[int, ...] = tuple(range(1, 7))
DEFAULT_FRAME_PATTERN = "S{subject}/Seq{seq}/imageFrames/video_{camera}/frame_{frame1:06d}.jpg"
CALIBRATION_HEADER = "Skeletool Camera Calibration File V1.0"
# Official frame counts per (subject, sequence) (Sec. 2.1 table).
OFFICIAL_FRAME_COUNTS: dict[tuple[int, int], int] = {
    (1, 1): 6416, (1, 2): 12430, (2, 1): 6502, (2, 2): 6081, (3, 1): 12488, (3, 2): 12283, (4, 1): 6171,
    (4, 2): 6675, (5, 1): 12820, (5, 2): 12312, (6, 1): 6188, (6, 2): 6145, (7, 1): 6239, (7, 2): 6320,
    (8, 1): 6468, (8, 2): 6054,
}
# mpii_get_activity_name.m (Sec. 2.5).
ACTIVITY_NAMES: dict[int, str] = {1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching",
                                  5: "On The Floor", 6: "Sports", 7: "Miscellaneous"}
# Official test-camera calibration files (Sec. 2.5): image size (W, H), sensor (w, h) mm, focal length mm,
# pixelAspect (y / x), centre offset (x, y) mm, OpenCV distortion (k1, k2, p1, p2, k3).
_TEST_CALIB = {
    "ts1-4": dict(size=(2048, 2048), sensor=(10.0, 10.0), focal=7.32506, aspect=1.00044,
                  offset=(-0.0322884, 0.0929296), dist=(0.0, 0.0, 0.0, 0.0, 0.0)),
    "ts5-6": dict(size=(1920, 1080), sensor=(10.0, 5.625), focal=8.770747185, aspect=0.993236423,
                  offset=(-0.104908645, 0.104899704),
                  dist=(-0.276859611, 0.131125256, -0.000360494, -0.001149441, -0.049318332)),
}


@dataclass(frozen=True)
class Camera:
    """One calibrated training camera. size: (W, H) pixels; K: (3, 3) pixels; R: (3, 3), t: (3,) mm, world->camera
    (X_cam = R X_world + t)."""

    size: tuple[int, int]
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray


def parse_calibration(path: str | Path) -> dict[int, Camera]:
    """Read a ``camera.calibration`` file (Sec. 2.3) into {camera id: Camera} for the 14 cameras 0..13.

    Lines are split on whitespace, so padding and trailing spaces do not matter. Raises FileNotFoundError or a
    ValueError naming the file, the line and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"3DHP calibration {path} not found")
    lines = path.read_text().splitlines()
    if not lines or lines[0].strip() != CALIBRATION_HEADER:
        raise ValueError(f"{path}: expected first line {CALIBRATION_HEADER!r}, found {lines[0] if lines else ''!r}")
    counts = {"sensor": 2, "size": 2, "animated": 1, "intrinsic": 16, "extrinsic": 16, "radial": None}
    blocks: dict[int, dict[str, list[float]]] = {}
    current = None
    for n, line in enumerate(lines[1:], start=2):
        tok = line.split()
        if not tok:
            continue
        key, vals = tok[0], tok[1:]
        if key == "name":
            if len(vals) != 1 or not vals[0].isdigit():
                raise ValueError(f"{path} line {n}: expected 'name <camera id>', found {line.strip()!r}")
            current = blocks.setdefault(int(vals[0]), {})
            continue
        if key not in counts:
            raise ValueError(f"{path} line {n}: expected one of name/{'/'.join(counts)}, found {key!r}")
        if current is None:
            raise ValueError(f"{path} line {n}: {key!r} before the first 'name' line")
        try:
            nums = [float(v) for v in vals]
        except ValueError:
            raise ValueError(f"{path} line {n}: {key} expects numbers, found {' '.join(vals)!r}") from None
        if counts[key] is not None and len(nums) != counts[key]:
            raise ValueError(f"{path} line {n}: {key} expects {counts[key]} numbers, found {len(nums)}")
        current[key] = nums
    if sorted(blocks) != list(range(NUM_CAMERAS)):
        raise ValueError(f"{path}: expected {NUM_CAMERAS} camera blocks named 0..{NUM_CAMERAS - 1}, "
                         f"found {sorted(blocks)}")
    cams = {}
    for c, b in blocks.items():
        missing = [k for k in ("size", "intrinsic", "extrinsic") if k not in b]
        if missing:
            raise ValueError(f"{path}: camera {c} has no {'/'.join(missing)} line")
        M, E = np.array(b["intrinsic"]).reshape(4, 4), np.array(b["extrinsic"]).reshape(4, 4)
        K, R = M[:3, :3], E[:3, :3]
        if K[0, 0] <= 0 or K[1, 1] <= 0 or K[1, 0] != 0 or not np.allclose(K[2], [0, 0, 1]):
            raise ValueError(f"{path}: camera {c} intrinsic expected [[fx,0,cx,0],[0,fy,cy,0],[0,0,1,0],[0,0,0,1]], "
                             f"found {M.tolist()}")
        if not np.allclose(E[3], [0, 0, 0, 1]) or not np.allclose(R @ R.T, np.eye(3), atol=1e-3):
            raise ValueError(f"{path}: camera {c} extrinsic expected [[R, t], [0, 0, 0, 1]] with R a rotation, "
                             f"found {E.tolist()}")
        cams[c] = Camera(size=(int(b["size"][0]), int(b["size"][1])), K=K.copy(), R=R.copy(), t=E[:3, 3].copy())
    return cams


def load_annot(path: str | Path, cameras: Sequence[int] = TRAIN_CAMERAS) -> dict:
    """Read a training ``annot.mat`` (Sec. 2.2).

    Returns a dict with ``frames`` (N,) int64 0-based frame numbers and, per camera c of ``cameras``,
    ``annot2[c]`` (N, 28, 2) pixels, ``annot3[c]`` and ``univ_annot3[c]`` (N, 28, 3) camera-frame mm.
    Raises FileNotFoundError, or ValueError naming the file, the field and the expected vs found shape.
    """
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"3DHP annotation {path} not found")
    try:
        mat = loadmat(str(path))
    except NotImplementedError:
        raise ValueError(f"{path}: expected a MATLAB v5 annot.mat, found MATLAB v7.3 (HDF5)") from None
    except Exception as e:  # scipy raises several types for files that are not MATLAB files
        raise ValueError(f"{path}: not a readable MATLAB v5 file ({e})") from None
    out: dict = {}
    n_rows = None
    for key, width in (("annot2", 56), ("annot3", 84), ("univ_annot3", 84)):
        if key not in mat:
            found = sorted(k for k in mat if not k.startswith("__"))
            raise ValueError(f"{path}: field {key!r} missing (found {found})")
        cell = np.asarray(mat[key])
        if cell.dtype != object or cell.size != NUM_CAMERAS:
            raise ValueError(f"{path}: {key} expected a (14, 1) cell array, found {cell.shape} {cell.dtype}")
        cell = cell.ravel()
        out[key] = {}
        for c in cameras:
            a = np.asarray(cell[c])
            if a.ndim != 2 or a.shape[1] != width or not np.issubdtype(a.dtype, np.number):
                raise ValueError(f"{path}: {key}[camera {c}] expected (N, {width}) numbers "
                                 f"({width // (2 if key == 'annot2' else 3)} joints), found {a.shape} {a.dtype}")
            if n_rows is None:
                n_rows = a.shape[0]
            elif a.shape[0] != n_rows:
                raise ValueError(f"{path}: {key}[camera {c}] has {a.shape[0]} rows, expected {n_rows} like the others")
            out[key][c] = a.astype(np.float64).reshape(n_rows, 28, width // 28)
    if "frames" not in mat:
        raise ValueError(f"{path}: field 'frames' missing")
    frames = np.asarray(mat["frames"])
    if frames.size != n_rows or not np.issubdtype(frames.dtype, np.number):
        raise ValueError(f"{path}: frames expected ({n_rows}, 1) numbers, found {frames.shape} {frames.dtype}")
    out["frames"] = frames.ravel().astype(np.int64)
    return out


def load_test_annot(path: str | Path) -> dict:
    """Read a test-set ``annot_data.mat`` (HDF5, Sec. 2.5).

    Returns ``annot2`` (N, 17, 2) pixels, ``annot3`` / ``univ_annot3`` (N, 17, 3) camera-frame mm (3DHP-17 order),
    ``valid`` (N,) bool, ``activity`` (N,) int64 in 1..7. Raises FileNotFoundError or a ValueError naming the file.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"3DHP test annotation {path} not found")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path}: expected a MATLAB v7.3 (HDF5) annot_data.mat, could not open it ({e})") from None
    with f:
        out = {}
        n = None
        for key, shape in (("annot2", (1, 17, 2)), ("annot3", (1, 17, 3)), ("univ_annot3", (1, 17, 3)),
                           ("valid_frame", (1,)), ("activity_annotation", (1,))):
            if key not in f:
                raise ValueError(f"{path}: dataset {key!r} missing (found {sorted(f.keys())})")
            a = f[key][()]
            n = a.shape[0] if n is None else n
            if a.shape != (n,) + shape or not np.issubdtype(a.dtype, np.number):
                raise ValueError(f"{path}: {key} expected shape ({n}, {', '.join(map(str, shape))}) numbers, "
                                 f"found {a.shape} {a.dtype}")
            out[key] = a
    activity = out["activity_annotation"].reshape(n).astype(np.int64)
    valid = out["valid_frame"].reshape(n) == 1
    bad = set(activity[valid].tolist()) - set(ACTIVITY_NAMES)
    if bad:
        raise ValueError(f"{path}: activity_annotation expected ids 1..7, found {sorted(bad)}")
    return {"annot2": out["annot2"][:, 0].astype(np.float64), "annot3": out["annot3"][:, 0].astype(np.float64),
            "univ_annot3": out["univ_annot3"][:, 0].astype(np.float64), "valid": valid, "activity": activity}


def ts_camera(seq: int, variant: str = "square") -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Intrinsics of test sequence TS<seq> (Sec. 2.5): ``fx = f / sw * W``, ``cx = W/2 + ox / sw * W``,
    ``cy = H/2 + oy / sh * H``; fy = fx ("square") or fx * pixelAspect ("aspect").

    Returns K (3, 3) pixels, dist (5,) OpenCV (k1, k2, p1, p2, k3), size (W, H).
    """
    if variant not in ("square", "aspect"):
        raise ValueError(f"test intrinsics variant must be 'square' or 'aspect', got {variant!r}")
    if seq not in TEST_SEQUENCES:
        raise ValueError(f"test sequence must be in 1..6, got {seq}")
    c = _TEST_CALIB["ts1-4" if seq <= 4 else "ts5-6"]
    (W, H), (sw, sh) = c["size"], c["sensor"]
    fx = c["focal"] / sw * W
    fy = fx * c["aspect"] if variant == "aspect" else fx
    K = np.array([[fx, 0.0, W / 2 + c["offset"][0] / sw * W], [0.0, fy, H / 2 + c["offset"][1] / sh * H],
                  [0.0, 0.0, 1.0]])
    return K, np.array(c["dist"]), (W, H)


def distort(points: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Project camera-frame points (..., J, 3) with K (3, 3) and OpenCV distortion (5,) (k1, k2, p1, p2, k3).
    Returns (..., J, 2) pixels of the distorted image."""
    x = points[..., :2] / points[..., 2:3]
    k1, k2, p1, p2, k3 = dist
    r2 = (x ** 2).sum(-1)
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    xx, yy = x[..., 0], x[..., 1]
    xd = xx * radial + 2 * p1 * xx * yy + p2 * (r2 + 2 * xx ** 2)
    yd = yy * radial + p1 * (r2 + 2 * yy ** 2) + 2 * p2 * xx * yy
    return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], -1)


def _median_px(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(np.linalg.norm(a - b, axis=-1))) if a.size else 0.0


def _view(image: np.ndarray, K: np.ndarray, joints3d: np.ndarray, crop_size: int, margin: float,
          dist: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop one view around its projected 17 joints. Returns crop, K_crop, joints2d (17, 2) crop pixels."""
    center, side = crops.box_from_joints(project(joints3d, K))
    crop, _, K_crop = crop_view(image, K, center, side, crop_size, margin, dist)
    return crop, K_crop, project(joints3d, K_crop)


def _check_size(img: np.ndarray, size: tuple[int, int], path: Path, source: str) -> None:
    if (img.shape[1], img.shape[0]) != tuple(size):
        raise ValueError(f"image {path}: expected {size[0]}x{size[1]} pixels ({source}), "
                         f"found {img.shape[1]}x{img.shape[0]}")


def _write_train(writer: DatasetWriter, root: Path, cameras, subjects, seqs, every: int, frame_pattern: str,
                 frame_counts: dict, max_reproj_px: float | None, univ: list, stats: dict) -> None:
    group = 0
    for s in subjects:
        for q in seqs:
            seq_dir = root / f"S{s}" / f"Seq{q}"
            calib = parse_calibration(seq_dir / "camera.calibration")
            ann = load_annot(seq_dir / "annot.mat", cameras)
            n = min(len(ann["frames"]), frame_counts.get((s, q), len(ann["frames"])))
            for c in cameras:
                j3 = skeleton.remap(ann["annot3"][c][:n], "3dhp28")[0]
                err = _median_px(project(j3, calib[c].K), skeleton.remap(ann["annot2"][c][:n], "3dhp28")[0])
                stats[f"S{s}/Seq{q}/cam{c}"] = err
                if max_reproj_px is not None and err > max_reproj_px:
                    raise ValueError(f"{seq_dir / 'annot.mat'} camera {c}: annot2 is {err:.2f} px (median) from the "
                                     f"projection of annot3 with the K of {seq_dir / 'camera.calibration'}, "
                                     f"expected < {max_reproj_px} px: wrong calibration file?")
            for i in progress_bar(range(0, n, every), desc=f"3DHP S{s}/Seq{q}", unit="frame", disable=None):
                frame = int(ann["frames"][i])
                for c in cameras:
                    path = root / frame_pattern.format(subject=s, seq=q, camera=c, frame=frame, frame1=frame + 1)
                    img = read_image(path)
                    _check_size(img, calib[c].size, path, f"size of camera {c} in {seq_dir / 'camera.calibration'}")
                    j3 = skeleton.remap(ann["annot3"][c][i], "3dhp28")[0]
                    crop, K_crop, j2 = _view(img, calib[c].K, j3, writer.crop_size, writer.crop_margin)
                    writer.add(Record(image=crop, K=K_crop, split="train", subject=f"S{s}", action="",
                                      sequence=f"S{s}/Seq{q}", frame=frame, group=group, view=c, R=calib[c].R,
                                      t=calib[c].t, joints2d=j2, vis2d=np.ones(skeleton.J, bool), joints3d=j3))
                    univ.append(skeleton.remap(ann["univ_annot3"][c][i], "3dhp28")[0])
                group += 1


def _write_test(writer: DatasetWriter, test_root: Path, seqs, variant: str, max_reproj_px: float | None,
                univ: list, stats: dict) -> None:
    for k in seqs:
        ts_dir = test_root / f"TS{k}"
        ann = load_test_annot(ts_dir / "annot_data.mat")
        K, dist, size = ts_camera(k, variant)
        valid = np.nonzero(ann["valid"])[0]
        for v in ("square", "aspect"):
            Kv = ts_camera(k, v)[0]
            stats[f"TS{k}/{v}"] = _median_px(distort(ann["annot3"][valid], Kv, dist), ann["annot2"][valid])
        err, other = stats[f"TS{k}/{variant}"], stats[f"TS{k}/{'aspect' if variant == 'square' else 'square'}"]
        if max_reproj_px is not None and err > max_reproj_px:
            raise ValueError(f"{ts_dir / 'annot_data.mat'}: annot2 is {err:.2f} px (median) from the projection of "
                             f"annot3 with the {variant!r} TS{k} intrinsics, expected < {max_reproj_px} px (the "
                             f"other variant gives {other:.2f} px)")
        for i in progress_bar(valid, desc=f"3DHP TS{k}", unit="frame", disable=None):
            path = ts_dir / "imageSequence" / f"img_{i + 1:06d}.jpg"
            img = read_image(path)
            _check_size(img, size, path, f"TS{k} test camera")
            j3 = skeleton.remap(ann["annot3"][i], "3dhp17")[0]
            crop, K_crop, j2 = _view(img, K, j3, writer.crop_size, writer.crop_margin, dist)
            writer.add(Record(image=crop, K=K_crop, split="test", subject=f"TS{k}",
                              action=ACTIVITY_NAMES[int(ann["activity"][i])], sequence=f"TS{k}", frame=int(i),
                              joints2d=j2, vis2d=np.ones(skeleton.J, bool), joints3d=j3))
            univ.append(skeleton.remap(ann["univ_annot3"][i], "3dhp17")[0])


def convert(out: str | Path, root: str | Path | None = None, test_root: str | Path | None = None,
            cameras: Sequence[int] = TRAIN_CAMERAS, subjects: Sequence[int] = SUBJECTS,
            seqs: Sequence[int] = SEQUENCES, test_seqs: Sequence[int] = TEST_SEQUENCES, every: int = 10,
            frame_pattern: str = DEFAULT_FRAME_PATTERN, test_intrinsics: str = "square",
            frame_counts: dict[tuple[int, int], int] | None = None, max_reproj_px: float | None = 5.0,
            crop_size: int = DEFAULT_CROP_SIZE, crop_margin: float = DEFAULT_CROP_MARGIN,
            overwrite: bool = False) -> Path:
    """Convert the 3DHP training set (``root``) and/or test set (``test_root``) into one canonical dataset at
    ``out`` (splits "train" and "test"). See the module docstring for layouts and what is stored.

    Args:
        cameras: training camera ids (0..13). every: keep training frames whose number is a multiple of it.
        frame_counts: {(subject, seq): usable frames}, default the official counts (Sec. 2.1).
        max_reproj_px: bound on the median annot2-vs-projection distance per sequence/camera; None disables.
    Returns the dataset directory. Raises FileNotFoundError / ValueError naming the offending file.
    """
    if root is None and test_root is None:
        raise ValueError("3DHP: give the training root, the test-set root, or both")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    bad = [c for c in cameras if not 0 <= c < NUM_CAMERAS]
    if bad:
        raise ValueError(f"camera ids must be in 0..{NUM_CAMERAS - 1}, got {bad}")
    ts_camera(1, test_intrinsics)  # validates the variant name before any work
    frame_counts = OFFICIAL_FRAME_COUNTS if frame_counts is None else frame_counts
    univ: list[np.ndarray] = []
    stats: dict[str, float] = {}
    meta = {"dataset": "mpi_inf_3dhp", "root": str(root), "test_root": str(test_root),
            "cameras": list(cameras), "subjects": list(subjects), "every": every, "frame_pattern": frame_pattern,
            "test_intrinsics": test_intrinsics, "reprojection_px": stats,
            "joints3d": "annot3 (camera frame, mm); extra/univ_joints3d.npy = univ_annot3 for the official metric"}
    with DatasetWriter(out, "mpi_inf_3dhp", "real", crop_size, crop_margin, meta=meta, overwrite=overwrite) as w:
        if root is not None:
            _write_train(w, Path(root), cameras, subjects, seqs, every, frame_pattern, frame_counts, max_reproj_px,
                         univ, stats)
        if test_root is not None:
            _write_test(w, Path(test_root), test_seqs, test_intrinsics, max_reproj_px, univ, stats)
        save_extra(w, "univ_joints3d", np.asarray(univ, np.float32).reshape(-1, skeleton.J, 3))
    return Path(out)


def _run(args: argparse.Namespace) -> Path:
    return convert(args.out, root=args.root, test_root=args.test_root, cameras=args.cameras,
                   subjects=args.subjects, seqs=args.seqs, test_seqs=args.test_seqs, every=args.every,
                   frame_pattern=args.frame_pattern, test_intrinsics=args.test_intrinsics,
                   max_reproj_px=None if args.max_reproj_px < 0 else args.max_reproj_px,
                   crop_size=args.crop_size, crop_margin=args.crop_margin, overwrite=args.overwrite)


def register_cli(subparsers) -> None:
    """Add the ``3dhp`` sub-command to a `prepare` parser."""
    p = subparsers.add_parser("3dhp", help="MPI-INF-3DHP training and/or test set",
                              description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--root", type=Path, help="training root holding S1..S8/Seq1,Seq2")
    p.add_argument("--test-root", type=Path, help="mpi_inf_3dhp_test_set folder holding TS1..TS6")
    p.add_argument("--cameras", type=int, nargs="+", default=list(TRAIN_CAMERAS), help="training cameras")
    p.add_argument("--subjects", type=int, nargs="+", default=list(SUBJECTS))
    p.add_argument("--seqs", type=int, nargs="+", default=list(SEQUENCES))
    p.add_argument("--test-seqs", type=int, nargs="+", default=list(TEST_SEQUENCES))
    p.add_argument("--every", type=int, default=10, help="keep every n-th training frame")
    p.add_argument("--frame-pattern", default=DEFAULT_FRAME_PATTERN,
                   help="decoded training frames, relative to --root (fields subject, seq, camera, frame, frame1)")
    p.add_argument("--test-intrinsics", choices=("square", "aspect"), default="square")
    p.add_argument("--max-reproj-px", type=float, default=5.0, help="negative disables the check")
    add_common_args(p)
    p.set_defaults(func=_run)
