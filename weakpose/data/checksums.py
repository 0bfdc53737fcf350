"""Checksums of the canonical format (`weakpose.data.format`): a CRC-32 per image (``index/image_crc32.npy``) and
per index and ``extra/`` file (meta.json ``checksums``), written by `DatasetWriter`, checked when a dataset is
opened (index files) and whenever an image is read; `weakpose.data.verify` checks a whole dataset."""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

CHECKSUM = "crc32"     # zlib.crc32 of the whole file (index, extra) or of one row's JPEG bytes (image_crc32.npy)
IMAGE_CRC_FILE = "image_crc32.npy"


ALLOW_UNVERIFIED_ENV = "WEAKPOSE_ALLOW_UNVERIFIED"  # "1": open datasets that have no checksums (trainer flag)


class DamagedDatasetError(ValueError):
    """A dataset file whose bytes are not those written (checksum mismatch, truncation, undecodable JPEG)."""


class UnverifiedDatasetError(ValueError):
    """A dataset whose meta.json records no checksums: its damage cannot be detected, so it is not read unless the
    user allows it explicitly (`allow_unverified`)."""


def allow_unverified(explicit: bool | None = None) -> bool:
    """Whether datasets without checksums may be opened: ``explicit`` when given, else the environment variable
    ``WEAKPOSE_ALLOW_UNVERIFIED`` (1/true/yes; set by ``weakpose-train --allow-unverified-data``)."""
    if explicit is not None:
        return explicit
    return os.environ.get(ALLOW_UNVERIFIED_ENV, "").strip().lower() in ("1", "true", "yes")


def file_crc32(path: str | os.PathLike, chunk: int = 1 << 22) -> int:
    """CRC-32 of a whole file, read in 4 MiB chunks."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            crc = zlib.crc32(block, crc)
    return crc


def damage_hint(path: str | os.PathLike, verify: bool = True) -> str:
    """What a user does about a damaged dataset at ``path`` (README "A damaged dataset")."""
    fix = (f"re-run the converter (python -m weakpose.data.real.prepare ... --overwrite) or, for a synthetic twin, "
           f"delete {path} so that it regenerates")
    return f"run `python -m weakpose.data.verify {path}` to list every damaged row; then {fix}" if verify else fix


def check_index(path: Path, meta: dict, required: tuple[str, ...] = (), unverified_ok: bool | None = None
                ) -> np.ndarray | None:
    """Check every index file of the dataset at ``path`` against meta["checksums"]; return the per-image CRC-32
    column (memory-mapped, (N,) uint32). ``required``: index file names that must have a recorded checksum (besides
    image_crc32.npy).
    A dataset without checksums raises `UnverifiedDatasetError` unless `allow_unverified` (``unverified_ok``, else
    $WEAKPOSE_ALLOW_UNVERIFIED): then None is returned with a printed note.
    Raises `DamagedDatasetError` naming the first file that does not match or has no recorded checksum."""
    sums = meta.get("checksums")
    if sums is None:
        if not allow_unverified(unverified_ok):
            raise UnverifiedDatasetError(
                f"{path} is unverified: its meta.json records no checksums, so damage to it cannot be detected "
                f"(written before weakpose recorded them, or meta.json was edited). Regenerate it: "
                f"{damage_hint(path, verify=False)}; or, to use it anyway, pass --allow-unverified-data to "
                f"weakpose-train (or set {ALLOW_UNVERIFIED_ENV}=1)")
        print(f"[weakpose] note: {path} was written without checksums (before weakpose recorded them): damage "
              f"cannot be detected when it is opened; `python -m weakpose.data.verify {path}` decodes every image",
              flush=True)
        return None
    if not isinstance(sums, dict) or sums.get("algorithm") != CHECKSUM or not isinstance(sums.get("index"), dict):
        found = sums.get("algorithm") if isinstance(sums, dict) else sums
        raise DamagedDatasetError(f"{path}/meta.json: checksums must be an object with algorithm {CHECKSUM!r} and an "
                                  f"index table, found algorithm {found!r}; {damage_hint(path)}")
    unlisted = [n for n in (*required, IMAGE_CRC_FILE) if n not in sums["index"]]
    if unlisted:
        raise DamagedDatasetError(f"{path}/meta.json: checksums.index records no CRC-32 for {unlisted}: the dataset's "
                                  f"meta.json is damaged; {damage_hint(path)}")
    for name, crc in sums["index"].items():
        f = path / "index" / name
        if not f.is_file():
            raise FileNotFoundError(f"{f} missing: the dataset at {path} is damaged; {damage_hint(path)}")
        found = file_crc32(f)
        if found != crc:
            raise DamagedDatasetError(f"{f}: CRC-32 {found:#010x} differs from {crc:#010x} recorded in meta.json "
                                      f"checksums.index[{name!r}]: the index file is damaged; {damage_hint(path)}")
    return np.load(path / "index" / IMAGE_CRC_FILE, mmap_mode="r")
