"""The one canonical on-disk dataset format that every source (synthetic twins, H36M, 3DHP, MPII, MQC) is
converted into, and its reader.

Layout of one dataset directory::

    <dir>/meta.json              name, source ("synthetic" | "real"), crop size, categories, bone statistics, ...
    <dir>/index/<column>.npy     one plain .npy per column, N rows, opened memory-mapped
    <dir>/images/shard_NNNNN.bin JPEG bytes of the crops, concatenated; rows point at (shard, offset, nbytes)
    <dir>/index/image_crc32.npy  CRC-32 of every row's JPEG bytes (checked on every read)
    <dir>/COMPLETE               written last: a directory without it is never read

Checksums: meta["checksums"] holds the CRC-32 of every index file (checked when the dataset is opened), of every
``extra/`` sidecar, and the byte size of every image shard; ``index/image_crc32.npy`` the CRC-32 of every image.
``python -m weakpose.data.verify DIR`` checks everything (`weakpose.data.verify`). Datasets written before
checksums were recorded have no meta["checksums"]; they still open, with a printed note.

Why this choice: a columnar index of fixed-width numpy arrays loads in O(1) with ``mmap_mode='r'`` for millions of
rows (no per-sample JSON to parse, no pickles, DataLoader workers share pages through the OS cache), and filtering
by split / subject / group is vectorised numpy. Images live in a few large append-only shard files: one ``pread`` per
sample, no millions of inodes, and a shard copies to a fast disk as one file. Writing goes to ``<dir>.partial`` and is
renamed into place only when complete, so an interrupted conversion never looks like a finished dataset.

Per row (one person crop seen by one camera):

=============  ================  =====================================================================
column         shape / dtype     meaning
=============  ================  =====================================================================
K              (N, 3, 3) f64     intrinsics of the stored crop, pixels (K_crop = A K_full, exact)
R, t           (N,3,3)/(N,3) f64 world->camera extrinsics (t in mm), valid where has_extrinsics
joints2d       (N, J, 2) f32     2D joints in crop pixels (pixel centres at integer coordinates)
vis2d          (N, J) bool       joint labelled (or pseudo-labelled) in 2D
joints3d       (N, J, 3) f32     3D joints in the camera frame, mm, valid where has_3d
group          (N,) i64          multi-view group id (same pose, several views); -1 for single images
view           (N,) i16          camera / view id inside the group
subject, action, sequence  i16   codes into meta["categories"][column]
frame          (N,) i32          frame number in its sequence
split          (N,) i8           code into SPLITS
image_shard, image_offset, image_nbytes   where the JPEG of the crop is
=============  ================  =====================================================================

The stored crop is ``crop_size`` pixels square and holds the nominal person box (the 256 x 256 training crop of the
paper, person covering ~75 %) scaled by ``1 / crop_margin`` at its centre, so that +-20 % scale and +-30 deg rotation
augmentation never leaves the stored pixels. The nominal box is therefore ``crop_size / crop_margin`` pixels wide.
"""
from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from weakpose import skeleton
from weakpose.data.checksums import (CHECKSUM, IMAGE_CRC_FILE, DamagedDatasetError, check_index, damage_hint,  # noqa: F401
                                     file_crc32, UnverifiedDatasetError)
from weakpose.data.folders import check_replaceable, is_dataset_dir, read_meta, remove_dir  # noqa: F401
from weakpose.camera import DEFAULT_CROP_MARGIN  # noqa: F401  (part of the format's meta defaults)

FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "val", "test")
CATEGORY_COLUMNS: tuple[str, ...] = ("subject", "action", "sequence")
SHARD_BYTES = 1 << 30  # start a new image shard after ~1 GiB


def data_root() -> Path:
    """Where datasets live: ``$WEAKPOSE_DATA`` if set, else ``~/.cache/weakpose`` (XDG_CACHE_HOME honoured)."""
    env = os.environ.get("WEAKPOSE_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "weakpose"


@dataclass
class Record:
    """One crop to write. Shapes use J = 17 (our order, `weakpose.skeleton`).

    image: (S, S, 3) uint8 RGB crop, S = the writer's crop_size; or already-encoded JPEG bytes.
    K: (3, 3) crop intrinsics in pixels. R: (3, 3), t: (3,) mm world->camera, or None.
    joints2d: (J, 2) crop pixels or None; vis2d: (J,) bool (defaults to finite joints2d).
    joints3d: (J, 3) mm in the camera frame or None.
    """

    image: np.ndarray | bytes
    K: np.ndarray
    split: str
    subject: str = ""
    action: str = ""
    sequence: str = ""
    frame: int = 0
    group: int = -1
    view: int = 0
    R: np.ndarray | None = None
    t: np.ndarray | None = None
    joints2d: np.ndarray | None = None
    vis2d: np.ndarray | None = None
    joints3d: np.ndarray | None = None


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    """(H, W, 3) uint8 RGB -> JPEG bytes (deterministic for identical input and libjpeg)."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes | np.ndarray) -> np.ndarray:
    """JPEG bytes -> (H, W, 3) uint8 RGB."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("could not decode JPEG data")
    return img[..., ::-1].copy()


_J = skeleton.J
# column -> (per-row shape, dtype, fill when absent)
_COLUMN_SPECS: dict[str, tuple[tuple[int, ...], str, float]] = {
    "K": ((3, 3), "f8", np.nan),
    "R": ((3, 3), "f8", np.nan),
    "t": ((3,), "f8", np.nan),
    "has_extrinsics": ((), "bool", False),
    "joints2d": ((_J, 2), "f4", np.nan),
    "vis2d": ((_J,), "bool", False),
    "has_2d": ((), "bool", False),
    "joints3d": ((_J, 3), "f4", np.nan),
    "has_3d": ((), "bool", False),
    "group": ((), "i8", -1),
    "view": ((), "i2", 0),
    "subject": ((), "i2", 0),
    "action": ((), "i2", 0),
    "sequence": ((), "i2", 0),
    "frame": ((), "i4", 0),
    "split": ((), "i1", 0),
    "image_shard": ((), "i4", 0),
    "image_offset": ((), "i8", 0),
    "image_nbytes": ((), "i4", 0),
}


class DatasetWriter:
    """Writes the canonical format; use as a context manager. Nothing is visible at ``out_dir`` until
    `close` succeeds (it writes into ``<out_dir>.partial`` and renames it).

    Args:
        out_dir: final dataset directory. Must not exist unless ``overwrite``.
        name: human-readable dataset name, e.g. "synthetic-H-small" or "h36m".
        source: "synthetic" or "real".
        crop_size: S, side of every stored crop in pixels.
        crop_margin: stored crop side / nominal person-box side.
        meta: extra JSON-serialisable metadata (generator parameters, source paths, ...).
    """

    def __init__(self, out_dir: str | os.PathLike, name: str, source: str, crop_size: int,
                 crop_margin: float = DEFAULT_CROP_MARGIN, meta: dict | None = None, overwrite: bool = False):
        if source not in ("synthetic", "real"):
            raise ValueError(f"source must be 'synthetic' or 'real', got {source!r}")
        self.out_dir = Path(out_dir)
        if self.out_dir.exists():  # only a weakpose dataset or an empty folder, and only with overwrite
            check_replaceable(self.out_dir, overwrite)
        self.tmp_dir = self.out_dir.with_name(self.out_dir.name + ".partial")
        remove_dir(self.tmp_dir, partial=True)
        (self.tmp_dir / "images").mkdir(parents=True)
        (self.tmp_dir / "index").mkdir()
        self.name, self.source, self.crop_size, self.crop_margin = name, source, int(crop_size), float(crop_margin)
        self.meta = dict(meta or {})
        self._cols = {k: [] for k in _COLUMN_SPECS}
        self._crc: list[int] = []
        self._cats: dict[str, dict[str, int]] = {c: {} for c in CATEGORY_COLUMNS}
        self._shard = -1
        self._shard_file = None
        self._shard_pos = 0
        self._closed = False
        self._next_shard()

    def _next_shard(self) -> None:
        if self._shard_file is not None:
            self._shard_file.close()
        self._shard += 1
        self._shard_file = open(self.tmp_dir / "images" / f"shard_{self._shard:05d}.bin", "wb")
        self._shard_pos = 0

    def __len__(self) -> int:
        return len(self._cols["K"])

    def add(self, rec: Record) -> int:
        """Append one record; returns its row index. Raises ValueError naming the bad field."""
        if rec.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {rec.split!r}")
        if isinstance(rec.image, (bytes, bytearray)):
            data = bytes(rec.image)
        else:
            img = np.asarray(rec.image)
            if img.shape != (self.crop_size, self.crop_size, 3) or img.dtype != np.uint8:
                raise ValueError(f"image must be ({self.crop_size}, {self.crop_size}, 3) uint8, "
                                 f"got {img.shape} {img.dtype}")
            data = encode_jpeg(img)
        if self._shard_pos + len(data) > SHARD_BYTES and self._shard_pos > 0:
            self._next_shard()
        self._shard_file.write(data)
        self._crc.append(zlib.crc32(data))
        c = self._cols
        K = _check(rec.K, (3, 3), "K")
        if not np.isfinite(K).all() or abs(np.linalg.det(K)) < 1e-12:
            raise ValueError(f"K must be finite and invertible, got {K.tolist()}")
        c["K"].append(K)
        has_ext = rec.R is not None
        c["R"].append(_check(rec.R, (3, 3), "R") if has_ext else np.full((3, 3), np.nan))
        c["t"].append(_check(rec.t, (3,), "t") if has_ext else np.full(3, np.nan))
        c["has_extrinsics"].append(has_ext)
        has_2d = rec.joints2d is not None
        j2 = _check(rec.joints2d, (_J, 2), "joints2d") if has_2d else np.full((_J, 2), np.nan)
        vis = (np.isfinite(j2).all(-1) if rec.vis2d is None else np.asarray(rec.vis2d, bool)) if has_2d \
            else np.zeros(_J, bool)
        if vis.shape != (_J,):
            raise ValueError(f"vis2d must have shape ({_J},), got {vis.shape}")
        c["joints2d"].append(j2)
        c["vis2d"].append(vis & np.isfinite(j2).all(-1))
        c["has_2d"].append(has_2d)
        has_3d = rec.joints3d is not None
        c["joints3d"].append(_check(rec.joints3d, (_J, 3), "joints3d") if has_3d else np.full((_J, 3), np.nan))
        c["has_3d"].append(has_3d)
        c["group"].append(int(rec.group))
        c["view"].append(int(rec.view))
        for col in CATEGORY_COLUMNS:
            table = self._cats[col]
            c[col].append(table.setdefault(str(getattr(rec, col)), len(table)))
        c["frame"].append(int(rec.frame))
        c["split"].append(SPLITS.index(rec.split))
        c["image_shard"].append(self._shard)
        c["image_offset"].append(self._shard_pos)
        c["image_nbytes"].append(len(data))
        self._shard_pos += len(data)
        return len(self) - 1

    def extend(self, records: Iterable[Record]) -> None:
        for r in records:
            self.add(r)

    def close(self) -> Path:
        """Write the index and meta, then move the directory into place. Returns the final path."""
        if self._closed:
            return self.out_dir
        self._shard_file.close()
        n = len(self)
        if n == 0:
            self.abort()
            raise ValueError(f"{self.name}: no records were written")
        for col, (shape, dtype, _) in _COLUMN_SPECS.items():
            arr = np.asarray(self._cols[col], dtype=dtype).reshape((n,) + shape)
            np.save(self.tmp_dir / "index" / f"{col}.npy", arr)
        np.save(self.tmp_dir / "index" / IMAGE_CRC_FILE, np.asarray(self._crc, np.uint32))
        j3 = np.asarray(self._cols["joints3d"], np.float32)
        train3d = np.asarray(self._cols["has_3d"]) & (np.asarray(self._cols["split"]) == SPLITS.index("train"))
        meta = {
            "format_version": FORMAT_VERSION, "name": self.name, "source": self.source, "num_rows": n,
            "crop_size": self.crop_size, "crop_margin": self.crop_margin, "num_joints": _J,
            "joint_names": list(skeleton.JOINT_NAMES), "splits": list(SPLITS),
            "categories": {col: list(t) for col, t in self._cats.items()},
            "num_shards": self._shard + 1,
            "bone_stats": bone_stats(j3[train3d]) if train3d.any() else None,
            **self.meta,
            "checksums": self._checksums(),
        }
        (self.tmp_dir / "meta.json").write_text(json.dumps(meta, indent=1))
        (self.tmp_dir / "COMPLETE").write_text("ok\n")
        remove_dir(self.out_dir)
        os.replace(self.tmp_dir, self.out_dir)
        self._closed = True
        return self.out_dir

    def _checksums(self) -> dict:
        """CRC-32 of every index file and extra/ sidecar written so far, and the size of every shard."""
        extra = self.tmp_dir / "extra"
        return {
            "algorithm": CHECKSUM,
            "index": {f.name: file_crc32(f) for f in sorted((self.tmp_dir / "index").glob("*.npy"))},
            "extra": {f.name: file_crc32(f) for f in sorted(extra.iterdir()) if f.is_file()} if extra.is_dir() else {},
            "shard_bytes": [(self.tmp_dir / "images" / f"shard_{k:05d}.bin").stat().st_size
                            for k in range(self._shard + 1)],
        }

    def abort(self) -> None:
        """Drop everything written so far."""
        if self._shard_file is not None and not self._shard_file.closed:
            self._shard_file.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self._closed = True

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _check(x, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


def bone_stats(joints3d: np.ndarray) -> dict:
    """Mean bone lengths for eq. 11 and eq. 12 from 3D poses.

    Args:
        joints3d: (N, J, 3) mm (any frame).
    Returns:
        dict with "bones" (list of [child, parent]), "mean_mm" (16,) mean length in mm (mu^L of eq. 12),
        "mean_normalised" (16,) mean of length / ||p_neck - p_pelvis|| (mu-hat^L of eq. 11) and "num_poses".
    """
    joints3d = np.asarray(joints3d, np.float64)
    ok = np.isfinite(joints3d).all(axis=(1, 2))
    P = joints3d[ok]
    lengths = skeleton.bone_lengths(P)
    s = np.linalg.norm(P[:, skeleton.NECK] - P[:, skeleton.PELVIS], axis=-1)
    return {
        "bones": [list(b) for b in skeleton.BONES],
        "mean_mm": lengths.mean(0).tolist(),
        "mean_normalised": (lengths / s[:, None]).mean(0).tolist(),
        "num_poses": int(len(P)),
    }


class CanonicalDataset:
    """Read-only view of one dataset directory. Columns are memory-mapped numpy arrays (attributes named as the
    columns, e.g. ``ds.K`` (N, 3, 3)); images decode on demand with `image`.

    Raises FileNotFoundError if the directory, its meta.json or its COMPLETE marker is missing, `DamagedDatasetError`
    (a ValueError naming the file) if meta.json is unreadable or an index file does not match its recorded CRC-32,
    `UnverifiedDatasetError` if meta.json records no checksums (unless `checksums.allow_unverified`).
    Every image read checks its row's CRC-32 (`image_bytes`).
    """

    def __init__(self, path: str | os.PathLike, allow_unverified: bool | None = None):
        self.path = Path(path)
        if not (self.path / "meta.json").is_file():
            raise FileNotFoundError(f"no canonical dataset at {self.path} (meta.json missing)")
        if not (self.path / "COMPLETE").is_file():
            raise FileNotFoundError(f"{self.path} is incomplete (no COMPLETE marker): re-run its conversion")
        self.meta = read_meta(self.path)  # DamagedDatasetError naming meta.json if it is unreadable
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{self.path}: format version {self.meta.get('format_version')}, "
                             f"this weakpose reads {FORMAT_VERSION}")
        self._image_crc = check_index(self.path, self.meta, [f"{c}.npy" for c in _COLUMN_SPECS], allow_unverified)
        self._cols: dict[str, np.ndarray] = {}
        for col in _COLUMN_SPECS:
            f = self.path / "index" / f"{col}.npy"
            if not f.is_file():
                raise FileNotFoundError(f"{f} missing: the dataset at {self.path} is damaged")
            self._cols[col] = np.load(f, mmap_mode="r")
        self._shards: dict[int, int] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols", {})
        if name in cols:
            return cols[name]
        raise AttributeError(name)

    def __len__(self) -> int:
        return int(self.meta["num_rows"])

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def source(self) -> str:
        return self.meta["source"]

    @property
    def crop_size(self) -> int:
        return int(self.meta["crop_size"])

    def category(self, column: str, i: int) -> str:
        """String value of a category column ("subject", "action", "sequence") at row i."""
        return self.meta["categories"][column][int(self._cols[column][i])]

    def codes(self, column: str, values: Iterable[str]) -> list[int]:
        table = self.meta["categories"][column]
        return [table.index(v) for v in values if v in table]

    def split_mask(self, split: str) -> np.ndarray:
        """(N,) bool rows of one split."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return np.asarray(self._cols["split"]) == SPLITS.index(split)

    def where(self, i: int) -> str:
        """Where row i's JPEG lives: 'row i of DIR: images/shard_NNNNN.bin offset O (B bytes)'."""
        shard = int(self._cols["image_shard"][i])
        off, nb = int(self._cols["image_offset"][i]), int(self._cols["image_nbytes"][i])
        return f"row {i} of {self.path}: images/shard_{shard:05d}.bin offset {off} ({nb} bytes)"

    def image_bytes(self, i: int) -> bytes:
        """JPEG bytes of row i, checked against its recorded CRC-32 (`DamagedDatasetError` names dir, row, shard and
        offset)."""
        shard = int(self._cols["image_shard"][i])
        off, nb = int(self._cols["image_offset"][i]), int(self._cols["image_nbytes"][i])
        fd = self._shards.get(shard)
        if fd is None:  # one descriptor per shard and process (DataLoader workers reopen after fork)
            fd = self._shards[shard] = os.open(self.path / "images" / f"shard_{shard:05d}.bin", os.O_RDONLY)
        data = os.pread(fd, nb, off)
        if len(data) != nb:
            raise DamagedDatasetError(f"{self.where(i)} points past the end of the shard (read {len(data)} bytes); "
                                      f"{damage_hint(self.path)}")
        if self._image_crc is not None and zlib.crc32(data) != int(self._image_crc[i]):
            raise DamagedDatasetError(f"{self.where(i)}: JPEG bytes fail their CRC-32 check (damaged on disk); "
                                      f"{damage_hint(self.path)}")
        return data

    def image(self, i: int) -> np.ndarray:
        """(S, S, 3) uint8 RGB crop of row i."""
        data = self.image_bytes(i)
        try:
            return decode_jpeg(data)
        except ValueError:
            raise DamagedDatasetError(f"{self.where(i)}: could not decode JPEG data; "
                                      f"{damage_hint(self.path)}") from None

    def groups(self, mask: np.ndarray | None = None) -> list[np.ndarray]:
        """Multi-view groups: a list of row-index arrays (views of one pose), restricted to ``mask`` rows."""
        g = np.asarray(self._cols["group"])
        rows = np.nonzero((g >= 0) & (mask if mask is not None else True))[0]
        if len(rows) == 0:
            return []
        order = rows[np.argsort(g[rows], kind="stable")]
        cuts = np.nonzero(np.diff(g[order]))[0] + 1
        return np.split(order, cuts)

    def __getstate__(self):  # picklable for DataLoader workers: file descriptors are not shared
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state

    def __del__(self):
        for fd in self.__dict__.get("_shards", {}).values():
            try:
                os.close(fd)
            except OSError:
                pass
