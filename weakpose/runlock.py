"""An exclusive lock on a run folder: one trainer at a time writes a run's checkpoints and history; and the other
guards of the trainer's command line (`check_run_dir`, `TRAIN_ERRORS`).

`RunLock` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<run>/checkpoints/trainer.lock`` and writes its pid there.
A second trainer on the same folder fails at once with `RunLocked`, naming the holder's pid. The operating system
releases the lock when the holder exits, however it exits (SIGKILL included), so a lock is never stale. The holder
deletes the file when it releases the lock; a process that locked a file deleted meanwhile sees that its inode is
no longer the path's and tries again. On a system without ``fcntl`` (Windows) the lock is a no-op.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from weakpose import checkpoints
from weakpose.data.checksums import DamagedDatasetError, UnverifiedDatasetError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_NAME = "trainer.lock"


class RunLocked(RuntimeError):
    """Another process holds the run folder's lock."""


class RunLock:
    """Context manager (or `acquire` / `release`) holding the exclusive lock of run folder ``run_dir``."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "checkpoints" / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        if self._fd is not None or fcntl is None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise NotADirectoryError(f"run folder {self.run_dir}: {self.path.parent} is not a folder "
                                     "(expected a run folder, or a path where one can be made)") from None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise RunLocked(f"run folder {self.run_dir} is in use by another trainer (pid {holder}, lock "
                                f"{self.path}); wait for it to finish or stop it, or train into another --out") from None
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break  # the file at the path is the one locked
            except FileNotFoundError:
                pass
            os.close(fd)  # its holder deleted it while we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)  # while still locked: a waiting opener then retries
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def locked(fit):
    """Decorator of ``Run.fit``: the run folder (``self.out``) is locked while it runs, on rank 0 (`RunLock`)."""
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "rank", 0):
            return fit(self, *args, **kwargs)
        with RunLock(self.out):
            return fit(self, *args, **kwargs)
    return wrapper


def check_run_dir(out: Path) -> None:
    """--out must be a folder this process can write (made if absent): a one-line error naming it otherwise."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; expected a run folder (or a path where one can be made)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PermissionError(f"--out {out}: cannot create the run folder ({e.strerror or e})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {out} is not writable; expected a run folder this user can write")


# what the trainer's command line reports as one line (the message names the file and what was expected)
TRAIN_ERRORS = (checkpoints.NoReadableCheckpoint, checkpoints.CheckpointWriteError, checkpoints.UnreadableCheckpoint,
                checkpoints.ConfigMismatch, RunLocked, DamagedDatasetError, UnverifiedDatasetError, FileNotFoundError,
                FileExistsError, NotADirectoryError, PermissionError)
