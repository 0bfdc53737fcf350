"""What a dataset writer may delete, and a dataset's meta.json read with its damage named.

``--overwrite`` (`weakpose.data.format.DatasetWriter`, the converters of `weakpose.data.real.prepare`,
`weakpose.tracklets`) replaces only a folder that is a weakpose dataset (its meta.json says so) or is empty, and a
stale ``<out>.partial`` only if it holds what a writer makes: never a folder weakpose did not write.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from weakpose.data.checksums import DamagedDatasetError, damage_hint

_PARTIAL_ENTRIES = frozenset({"images", "index", "extra", "meta.json", "COMPLETE"})


def is_dataset_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding a weakpose dataset: its meta.json is a JSON object with a
    ``format_version``, a ``name`` and ``num_rows`` (complete or not; damaged shards or index files do not matter)."""
    try:
        d = json.loads((Path(path) / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and "format_version" in d and "name" in d and "num_rows" in d


def check_replaceable(path: str | os.PathLike, overwrite: bool = True, partial: bool = False) -> None:
    """Raise FileExistsError unless the existing ``path`` may be deleted to make room for a dataset: with
    ``overwrite``, an empty folder or a weakpose dataset (`is_dataset_dir`); with ``partial`` also the ``.partial``
    folder of an interrupted write (only the entries a writer makes). Anything else, a file included, is refused
    with its name: ``--overwrite`` never deletes what weakpose did not write."""
    path = Path(path)
    if not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    if path.is_symlink() or not path.is_dir():
        kind = "a symbolic link" if path.is_symlink() else "a file"
        raise FileExistsError(f"{path} is {kind}, not a weakpose dataset folder: refusing to replace it "
                              "(choose another output folder, or remove it yourself)")
    entries = {p.name for p in path.iterdir()}
    if not entries or is_dataset_dir(path) or (partial and entries <= _PARTIAL_ENTRIES):
        return
    shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
    raise FileExistsError(f"{path} is not a weakpose dataset (no meta.json of one) and not empty (it holds {shown}): "
                          "refusing to delete it to replace it; choose another output folder, or remove it yourself")


def remove_dir(path: str | os.PathLike, partial: bool = False) -> None:
    """Delete ``path`` if it exists and `check_replaceable` allows it (FileExistsError naming it otherwise)."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        check_replaceable(path, partial=partial)
        shutil.rmtree(path)


def read_meta(path: str | os.PathLike) -> dict:
    """The meta.json of the dataset at ``path``; `DamagedDatasetError` naming the file if it is unreadable or not a
    JSON object."""
    f = Path(path) / "meta.json"
    try:
        meta = json.loads(f.read_text())
    except (ValueError, OSError) as e:  # JSONDecodeError / UnicodeDecodeError are ValueErrors
        raise DamagedDatasetError(f"{f}: unreadable, expected the dataset's JSON metadata ({type(e).__name__}: {e}); "
                                  f"{damage_hint(path, verify=False)}") from None
    if not isinstance(meta, dict):
        raise DamagedDatasetError(f"{f}: expected a JSON object, found a {type(meta).__name__}; "
                                  f"{damage_hint(path, verify=False)}")
    return meta
