"""Check a canonical dataset (`weakpose.data.format`) against the checksums recorded when it was written.

Command line::

    python -m weakpose.data.verify DIR [DIR ...] [--decode]

Checks meta.json and the COMPLETE marker, the CRC-32 of every index file and ``extra/`` sidecar, the size of every
image shard, and the CRC-32 of every row's JPEG bytes (one sequential pass over each shard: seconds per GB). Every
bad row is listed with its shard file and offset. ``--decode`` also decodes every JPEG (slower); datasets written
before checksums were recorded are always decoded, as that is the only check they allow, and reported UNVERIFIED
(their damage cannot be detected in general; training refuses them unless ``--allow-unverified-data``). Exit
status 0 when everything matches, 1 when anything is damaged or a folder is not a dataset, 2 when the worst
finding is an unverified dataset.
"""
from __future__ import annotations

import argparse
import json
import mmap
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from weakpose.data import checksums
from weakpose.data import format as fmt

IMAGE_COLUMNS = ("image_shard", "image_offset", "image_nbytes")


@dataclass
class Report:
    """What `verify` found in one dataset directory: ``problems`` (one line each, bad rows included), ``bad_rows``
    (row indices), and what was checked."""

    path: Path
    rows: int = 0
    shards: int = 0
    bytes_checked: int = 0
    seconds: float = 0.0
    has_checksums: bool = True
    missing: str = ""            # not a dataset at all: why ("no such folder", "no meta.json"); nothing to repair
    problems: list[str] = None
    bad_rows: list[int] = None

    def __post_init__(self):
        self.problems, self.bad_rows = [], []

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: str | Path, decode: bool = False) -> Report:
    """Check the dataset at ``path``; never raises for damage (it is listed in the returned `Report`)."""
    t0 = time.perf_counter()
    path = Path(path)
    rep = Report(path)
    meta_file = path / "meta.json"
    if not path.exists():
        rep.missing = "no such file or folder"
    elif not path.is_dir():
        rep.missing = "a file, not a dataset folder"
    elif not meta_file.is_file():
        rep.missing = "no meta.json: not a weakpose dataset"
    if rep.missing:
        rep.problems.append(f"{path}: {rep.missing}")
        return rep
    try:
        meta = json.loads(meta_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        rep.problems.append(f"{meta_file}: not valid JSON ({e})")
        return rep
    if not isinstance(meta, dict):
        rep.problems.append(f"{meta_file}: expected a JSON object, found a {type(meta).__name__}")
        return rep
    if not (path / "COMPLETE").is_file():
        rep.problems.append(f"{path}/COMPLETE missing: the conversion never finished")
    n = rep.rows = int(meta.get("num_rows", 0))
    sums = meta.get("checksums")
    rep.has_checksums = sums is not None
    if sums is not None and (not isinstance(sums, dict) or not isinstance(sums.get("index"), dict)):
        rep.problems.append(f"{meta_file}: checksums is not an object with an index table")
        return rep
    cols, bad_cols = _check_index(path, n, sums, rep)
    if sums is not None:
        for name, crc in sums.get("extra", {}).items():
            f = path / "extra" / name
            if not f.is_file():
                rep.problems.append(f"{f} missing")
            elif checksums.file_crc32(f) != crc:
                rep.problems.append(f"{f}: CRC-32 differs from meta.json checksums.extra[{name!r}]")
    needed = IMAGE_COLUMNS + (("image_crc32",) if sums is not None else ())
    if bad_cols & set(needed):
        rep.problems.append(f"row checks skipped: the image columns {sorted(bad_cols & set(needed))} are damaged")
    else:
        _check_rows(path, meta, cols, sums, decode or sums is None, rep)
    rep.seconds = time.perf_counter() - t0
    return rep


def _check_index(path: Path, n: int, sums: dict | None, rep: Report) -> tuple[dict[str, np.ndarray], set[str]]:
    cols, bad = {}, set()
    names = [f"{c}.npy" for c in fmt._COLUMN_SPECS] + ([fmt.IMAGE_CRC_FILE] if sums is not None else [])
    for name in names:
        f, col = path / "index" / name, name[:-4]
        if not f.is_file():
            rep.problems.append(f"{f} missing")
            bad.add(col)
            continue
        if sums is not None:
            want = sums["index"].get(name)
            found = checksums.file_crc32(f)
            if want is None or found != want:
                rep.problems.append(f"{f}: CRC-32 {found:#010x} differs from {want} recorded in meta.json "
                                    f"checksums.index[{name!r}]")
                bad.add(col)
                continue
        try:
            a = np.load(f, mmap_mode="r")
        except Exception as e:  # a damaged .npy header
            rep.problems.append(f"{f}: unreadable ({type(e).__name__}: {e})")
            bad.add(col)
            continue
        if len(a) != n:
            rep.problems.append(f"{f}: {len(a)} rows, meta.json says {n}")
            bad.add(col)
        cols[col] = a
    return cols, bad


def _check_rows(path: Path, meta: dict, cols: dict, sums: dict | None, decode: bool, rep: Report) -> None:
    shard_of = np.asarray(cols["image_shard"], np.int64)
    off_of, nb_of = np.asarray(cols["image_offset"], np.int64), np.asarray(cols["image_nbytes"], np.int64)
    crc_of = np.asarray(cols["image_crc32"], np.int64) if sums is not None else None
    sizes = sums.get("shard_bytes") if sums is not None else None
    num_shards = int(meta.get("num_shards", shard_of.max() + 1 if len(shard_of) else 0))
    rep.shards = num_shards
    bad_shard = (shard_of < 0) | (shard_of >= num_shards)
    for r in np.nonzero(bad_shard)[0]:
        _bad(rep, int(r), f"image_shard {shard_of[r]} is not one of the {num_shards} shards")
    for k in range(num_shards):
        f = path / "images" / f"shard_{k:05d}.bin"
        rows = np.nonzero(shard_of == k)[0]
        if not f.is_file():
            rep.problems.append(f"{f} missing ({len(rows)} rows point into it)")
            rep.bad_rows.extend(int(r) for r in rows)
            continue
        size = f.stat().st_size
        if sizes is not None and k < len(sizes) and size != sizes[k]:
            rep.problems.append(f"{f}: {size} bytes, meta.json checksums.shard_bytes says {sizes[k]}")
        rows = rows[np.argsort(off_of[rows], kind="stable")]  # one sequential pass over the shard
        with open(f, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            try:
                for r in rows:
                    off, nb = int(off_of[r]), int(nb_of[r])
                    where = f"images/shard_{k:05d}.bin offset {off} ({nb} bytes)"
                    if off < 0 or nb <= 0 or off + nb > size:
                        _bad(rep, int(r), f"{where}: outside the shard ({size} bytes)")
                        continue
                    data = mm[off:off + nb]
                    rep.bytes_checked += nb
                    crc = zlib.crc32(data)
                    if crc_of is not None and crc != crc_of[r]:
                        _bad(rep, int(r), f"{where}: CRC-32 {crc:#010x}, recorded {int(crc_of[r]):#010x}")
                    elif decode:
                        try:
                            fmt.decode_jpeg(data)
                        except ValueError:
                            _bad(rep, int(r), f"{where}: could not decode JPEG data")
            finally:
                if size:
                    mm.close()


def _bad(rep: Report, row: int, what: str) -> None:
    rep.bad_rows.append(row)
    rep.problems.append(f"row {row}: {what}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m weakpose.data.verify", description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="canonical dataset directories")
    p.add_argument("--decode", action="store_true", help="also decode every JPEG (slower)")
    a = p.parse_args(argv)
    damaged = unverified = False
    for d in a.dirs:
        rep = verify(d, a.decode)
        mib = rep.bytes_checked / 2**20
        if rep.missing:
            print(f"NOT A DATASET {d}: {rep.missing}")
            damaged = True
            continue
        if rep.ok and not rep.has_checksums:
            print(f"UNVERIFIED {d}: meta.json records no checksums, so damage cannot be detected in general; every "
                  f"JPEG decoded ({rep.rows} rows, {mib:.1f} MiB). Training refuses it unless "
                  f"--allow-unverified-data; to make it verifiable: {checksums.damage_hint(d, verify=False)}")
            unverified = True
            continue
        if rep.ok:
            print(f"OK {d}: {rep.rows} rows, {rep.shards} shards, {mib:.1f} MiB checked in {rep.seconds:.2f} s")
            continue
        if not rep.has_checksums:
            print(f"note: {d} was written without checksums: every JPEG was decoded instead")
        damaged = True
        for line in rep.problems:
            print(f"{d}: {line}")
        print(f"DAMAGED {d}: {len(rep.problems)} problems, {len(set(rep.bad_rows))} bad rows. "
              f"To fix it: {checksums.damage_hint(d, verify=False)}")
    return 1 if damaged else 2 if unverified else 0


if __name__ == "__main__":
    sys.exit(main())
