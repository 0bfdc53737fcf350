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


class DamagedDatasetError(ValueError):
    """A dataset file whose bytes are not those written (checksum mismatch, truncation, undecodable JPEG)."""


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


def check_index(path: Path, meta: dict) -> np.ndarray | None:
    """Check every index file of the dataset at ``path`` against meta["checksums"]; return the per-image CRC-32
    column (memory-mapped, (N,) uint32), or None with a printed note for a dataset written without checksums.
    Raises `DamagedDatasetError` naming the first file that does not match."""
    sums = meta.get("checksums")
    if sums is None:
        print(f"[weakpose] note: {path} was written without checksums (before weakpose recorded them): damage "
              f"cannot be detected when it is opened; `python -m weakpose.data.verify {path}` decodes every image",
              flush=True)
        return None
    if sums.get("algorithm") != CHECKSUM:
        raise ValueError(f"{path}/meta.json: checksums.algorithm is {sums.get('algorithm')!r}, expected {CHECKSUM!r}")
    for name, crc in sums["index"].items():
        f = path / "index" / name
        if not f.is_file():
            raise FileNotFoundError(f"{f} missing: the dataset at {path} is damaged; {damage_hint(path)}")
        found = file_crc32(f)
        if found != crc:
            raise DamagedDatasetError(f"{f}: CRC-32 {found:#010x} differs from {crc:#010x} recorded in meta.json "
                                      f"checksums.index[{name!r}]: the index file is damaged; {damage_hint(path)}")
    return np.load(path / "index" / IMAGE_CRC_FILE, mmap_mode="r")
