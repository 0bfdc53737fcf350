"""Trainer checkpoints on disk: written atomically, verified readable before older ones are deleted, and read back
with ``torch.load(weights_only=True)`` only, so a checkpoint from someone else cannot run code.

Layout of ``<run>/checkpoints/``::

    step-000120.pt   the newest ``keep`` checkpoints, one per checkpoint step (``TrainConfig.keep_checkpoints``)
    last.pt          a copy of the newest one (what `weakpose.model.load_checkpoint` users point at)

A checkpoint holds only tensors and plain Python types (dict, list, tuple, str, int, float, bool, None): the
numpy and python RNG states are stored as a tensor plus ints (`rng_state` / `set_rng_state`). Checkpoints written
before that hold the numpy RNG state as a plain uint32 array; reading allows exactly the three numpy globals that
rebuild a plain array (`_NUMPY_ARRAY_GLOBALS`: no code of the file's choosing can run), so they still load.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import random
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import torch

LAST = "last.pt"
_np_core = getattr(np, "_core", None) or np.core
# what pickle needs to rebuild a plain ndarray (the numpy RNG state of checkpoints written before rng_state existed)
_NUMPY_ARRAY_GLOBALS = [_np_core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
_STEP_RE = re.compile(r"^step-(\d+)\.pt$")


class UnreadableCheckpoint(ValueError):
    """A checkpoint file that cannot be used; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"checkpoint {path} is unreadable: {reason}")


class NoReadableCheckpoint(RuntimeError):
    """Checkpoints exist but none of them can be read."""


class ConfigMismatch(ValueError):
    """A run folder's checkpoint was written by another configuration."""


def step_path(folder: str | os.PathLike, step: int) -> Path:
    return Path(folder) / f"step-{step:06d}.pt"


def step_files(folder: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of the ``step-*.pt`` files in ``folder``, newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_RE.match(p.name)) and p.is_file()]
    return sorted(found, reverse=True)


def candidates(folder: str | os.PathLike) -> list[Path]:
    """Checkpoints to resume from, in the order they are tried: last.pt, then step files newest first."""
    last = Path(folder) / LAST
    return ([last] if last.is_file() else []) + [p for _, p in step_files(folder)]


# ----------------------------------------------------------------------------------------------- reading
def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:  # torch's weights_only refusal names the global it met on some later line
        if "Unsupported global" in ln or "Unsupported operand" in ln:
            return ln
    return lines[0] if lines else type(e).__name__


def _refused_what(e: BaseException) -> str:
    """What torch's weights_only unpickler refused (e.g. "GLOBAL builtins.open"), without its advice to load the
    file with weights_only=False (which would run the code)."""
    m = re.search(r"GLOBAL\s+([\w.]+)", str(e)) or re.search(r"[Uu]nsupported operand\W*(\w+)", str(e))
    return f"it names {m.group(1)}" if m else "not only tensors and plain types"


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, folder not writable); the previous checkpoints are intact."""


def read_checkpoint(path: str | os.PathLike, map_location="cpu",
                    required: tuple[str, ...] = ("config", "model")) -> dict:
    """Load a checkpoint with ``weights_only=True`` after checking its zip structure and CRC-32s.

    Raises FileNotFoundError if ``path`` is missing and `UnreadableCheckpoint` (a ValueError naming the file and the
    reason) if it is truncated, damaged, carries pickled Python objects, or lacks one of the ``required`` keys."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise UnreadableCheckpoint(path, f"not a complete torch zip archive (truncated or overwritten?): {e}") from None
    if bad is not None:
        raise UnreadableCheckpoint(path, f"member {bad!r} fails its CRC-32 check (damaged bytes)")
    try:
        with torch.serialization.safe_globals(_NUMPY_ARRAY_GLOBALS):
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnreadableCheckpoint(path, f"refused: it carries a pickled Python object ({_refused_what(e)}), "
                                         "which could run code when loaded; weakpose loads only checkpoints of "
                                         "tensors and plain types, never such a file") from None
    except Exception as e:  # torch raises RuntimeError / ValueError / EOFError for damaged archives
        raise UnreadableCheckpoint(path, f"{type(e).__name__}: {_first_line(e)}") from None
    if not isinstance(state, dict):
        raise UnreadableCheckpoint(path, f"not a weakpose checkpoint (holds a {type(state).__name__}, expected a dict)")
    missing = [k for k in required if k not in state]
    if missing:
        raise UnreadableCheckpoint(path, f"not a weakpose checkpoint (missing keys {missing}, "
                                         f"expected {list(required)})")
    return state


def load_newest(folder: str | os.PathLike, map_location="cpu", required: tuple[str, ...] = ("config", "model")
                ) -> tuple[Path | None, dict | None, list[UnreadableCheckpoint]]:
    """The first readable checkpoint of `candidates` (path, state), and every unreadable one met before it.
    (None, None, errors) when none is readable."""
    errors = []
    for p in candidates(folder):
        try:
            return p, read_checkpoint(p, map_location, required), errors
        except UnreadableCheckpoint as e:
            errors.append(e)
    return None, None, errors


def set_aside(errors: list[UnreadableCheckpoint]) -> list[Path]:
    """Rename unreadable checkpoints to ``<name>.unreadable`` (kept for inspection, never tried again)."""
    moved = []
    for e in errors:
        dst = e.path.with_name(e.path.name + ".unreadable")
        if e.path.is_file():
            os.replace(e.path, dst)
            moved.append(dst)
    return moved


# ----------------------------------------------------------------------------------------------- writing
def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(state: dict, folder: str | os.PathLike, step: int, keep: int,
                     required: tuple[str, ...] = ("config", "model")) -> Path:
    """Write ``state`` as ``step-<step>.pt`` and ``last.pt`` in ``folder``, then delete step files beyond the newest
    ``keep``. Every file goes through ``<name>.tmp`` + fsync + rename, so a crash never leaves a half-written
    checkpoint under a final name; the new checkpoint is read back (`read_checkpoint`) before any older one is
    deleted. Returns the step file."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.tmp"):  # left by a process killed while writing
        stale.unlink()
    final = step_path(folder, step)
    tmp = final.with_name(final.name + ".tmp")
    try:
        torch.save(state, tmp)
        _fsync(tmp)
    except Exception as e:  # disk full: torch raises "[enforce fail at inline_container.cc] unexpected pos ..."
        tmp.unlink(missing_ok=True)
        raise CheckpointWriteError(_write_failure(tmp, e)) from None
    read_checkpoint(tmp, "cpu", required)  # verified readable before it replaces anything
    os.replace(tmp, final)
    _copy_to_last(final)
    for _, old in step_files(folder)[keep:]:
        old.unlink()
    return final


def _write_failure(path: Path, e: BaseException) -> str:
    try:
        free = f"; {shutil.disk_usage(path.parent).free / 2**20:.0f} MiB free on that disk"
    except OSError:
        free = ""
    return (f"could not write checkpoint {path} ({type(e).__name__}: {_first_line(e)}){free}. The disk may be full "
            f"or the folder not writable; the checkpoints written before are intact and the run resumes from the "
            f"newest of them when started again")


def _copy_to_last(src: Path) -> Path:
    """``last.pt`` := a copy of ``src`` (through ``last.pt.tmp`` + fsync + rename)."""
    folder = src.parent
    last_tmp = folder / (LAST + ".tmp")
    try:
        shutil.copyfile(src, last_tmp)
        _fsync(last_tmp)
    except OSError as e:
        last_tmp.unlink(missing_ok=True)
        raise CheckpointWriteError(_write_failure(last_tmp, e)) from None
    os.replace(last_tmp, folder / LAST)
    _fsync(folder)
    return folder / LAST


def load_states(path: Path, state: dict, model: torch.nn.Module, optimizer=None) -> None:
    """Load a checkpoint's weights (and optimizer state) into ``model`` (``optimizer``); `UnreadableCheckpoint`
    naming ``path`` when they do not fit the model its config describes."""
    try:
        model.load_state_dict(state["model"])
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as e:
        raise UnreadableCheckpoint(path, "its weights or optimizer state do not fit the model its config describes "
                                         f"({str(e).strip().splitlines()[-1]})") from None


def check_config(path: Path, saved, cfg) -> None:
    """`ConfigMismatch` naming ``path`` and the fields that differ unless the dataclasses ``saved`` (the config the
    checkpoint was written by) and ``cfg`` (the run's) are equal."""
    if saved != cfg:
        diff = [f.name for f in dataclasses.fields(cfg) if getattr(saved, f.name) != getattr(cfg, f.name)]
        raise ConfigMismatch(f"{path} was written by a different configuration (fields {diff[:8]} differ); nothing "
                             "was resumed: use another output directory for this configuration")


def after_fallback(path: Path, errors: list[UnreadableCheckpoint], step: int) -> None:
    """After resuming from ``path``: the unreadable checkpoints met before it are set aside (`set_aside`) and, when
    ``path`` is a step file, last.pt becomes a copy of it again (`restore_last`)."""
    if errors:
        set_aside(errors)
        print(f"[weakpose] falling back to {path} (step {step}); last.pt restored from it", flush=True)
    restore_last(path)


def restore_last(path: str | os.PathLike) -> Path | None:
    """After a fallback to the readable checkpoint ``path`` (a ``step-*.pt``), make ``last.pt`` a copy of it again,
    so that ``<run>/checkpoints/last.pt`` names the run's newest readable checkpoint. Returns last.pt (None when
    ``path`` is last.pt itself)."""
    path = Path(path)
    if path.name == LAST:
        return None
    return _copy_to_last(path)


# ----------------------------------------------------------------------------------------------- RNG states
def seed_everything(seed: int) -> None:
    """Seed the python, numpy and torch global RNGs (what a run starts from; `rng_state` is what it saves)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """The torch, numpy, python (and CUDA) global RNG states as tensors and plain types (weights_only-safe)."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(),
            "numpy_keys": torch.from_numpy(np.asarray(keys, np.int64)), "numpy_pos": int(pos),
            "numpy_has_gauss": int(has_gauss), "numpy_cached_gaussian": float(cached),
            "python": [int(version), [int(x) for x in internal], gauss_next],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(rng: dict) -> None:
    """Inverse of `rng_state`."""
    torch.set_rng_state(rng["torch"])
    if "numpy" in rng:  # written before rng_state: np.random.get_state() itself
        np.random.set_state(tuple(rng["numpy"]))
    else:
        np.random.set_state(("MT19937", rng["numpy_keys"].numpy().astype(np.uint32), int(rng["numpy_pos"]),
                             int(rng["numpy_has_gauss"]), float(rng["numpy_cached_gaussian"])))
    version, internal, gauss_next = rng["python"]
    random.setstate((int(version), tuple(int(x) for x in internal), gauss_next))
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
