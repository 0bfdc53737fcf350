"""An exclusive lock on a run folder: one trainer at a time writes a run's checkpoints and history.

`RunLock` takes ``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``<run>/checkpoints/trainer.lock`` and writes its pid there.
A second trainer on the same folder fails at once with `RunLocked`, naming the holder's pid. The operating system
releases the lock when the holder exits, however it exits (SIGKILL included), so a lock is never stale; the file
itself stays (removing it would let a third process lock a different inode while the first still runs).
On a system without ``fcntl`` (Windows) the lock is a no-op.
"""
from __future__ import annotations

import os
from pathlib import Path

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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(f"run folder {self.run_dir} is in use by another trainer (pid {holder}, lock "
                            f"{self.path}); wait for it to finish or stop it, or train into another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
