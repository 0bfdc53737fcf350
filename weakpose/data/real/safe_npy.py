"""Read the object arrays of third-party ``.npy`` / ``.npz`` files without running code from them.

Human3.6M's label formats store a pickled dict by design (learnable-triangulation's labels ``.npy``, VideoPose3D's
``positions_3d`` in its ``.npz``). ``np.load(allow_pickle=True)`` would let such a file call any function while it
is being read; `load_npy` / `load_npz_member` unpickle with a restricted unpickler instead, which rebuilds only
the numpy and builtin types these files hold (arrays, dtypes, numpy scalars, dict / list / tuple / str / bytes /
numbers, set, complex). Any other global in the pickle is refused with a ValueError naming the file, before
anything of the file's choosing is called.
"""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

# (module, name) pairs a numpy object array of plain data needs; numpy 1.x pickles say numpy.core, 2.x numpy._core
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [(m, n) for m in ("numpy.core.multiarray", "numpy._core.multiarray") for n in ("_reconstruct", "scalar")]
    + [("numpy", "ndarray"), ("numpy", "dtype"),
       ("builtins", "complex"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
       ("_codecs", "encode")])  # protocol 2 pickles store bytes as _codecs.encode(str, "latin1")


class RefusedPickle(ValueError):
    """A pickled object array that names a global outside the allowed numpy / builtin types."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, f, path: Path):
        super().__init__(f, encoding="latin1")  # latin1: what numpy needs for arrays pickled by Python 2
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise RefusedPickle(f"{self.path}: refused to load: its pickled object array names {module}.{name}, "
                                "which is not one of the numpy / builtin types a labels file holds (loading it "
                                "could run code); expected only arrays, dicts, lists, strings and numbers")
        return super().find_class(module, name)


def _read(f, path: Path) -> np.ndarray:
    """The array of the open ``.npy`` stream ``f``: plain dtypes through numpy (no pickle), object dtypes through
    the restricted unpickler."""
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ValueError(f"npy format version {version} (expected 1.0 or 2.0)")
    except ValueError as e:
        raise ValueError(f"{path}: not a readable .npy file ({e})") from None
    if not dtype.hasobject:
        f.seek(0)
        try:
            return np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ValueError(f"{path}: not a readable .npy file ({e})") from None
    try:
        arr = _RestrictedUnpickler(f, path).load()
    except RefusedPickle:
        raise
    except Exception as e:  # truncated or malformed pickle stream
        raise ValueError(f"{path}: its pickled object array is unreadable ({type(e).__name__}: {e})") from None
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{path}: its pickled payload is a {type(arr).__name__}, expected a numpy array")
    return arr


def load_npy(path: str | os.PathLike) -> np.ndarray:
    """``np.load(path)`` for a ``.npy`` file whose object arrays are unpickled by the restricted unpickler.
    Raises `RefusedPickle` (a ValueError naming the file and the refused global) or ValueError (unreadable)."""
    path = Path(path)
    with open(path, "rb") as f:
        return _read(f, path)


def npz_members(path: str | os.PathLike) -> list[str]:
    """The array names of an ``.npz`` archive (ValueError naming the file if it is not one)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            return [n[:-4] for n in z.namelist() if n.endswith(".npy")]
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz archive ({e})") from None


def load_npz_member(path: str | os.PathLike, name: str) -> np.ndarray:
    """Array ``name`` of the ``.npz`` archive at ``path``, read as `load_npy` reads a file."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            data = z.read(f"{name}.npy")
    except KeyError:
        raise ValueError(f"{path}: no array {name!r} in the archive") from None
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{path}: not a readable .npz archive ({e})") from None
    return _read(io.BytesIO(data), Path(f"{path}[{name}]"))
