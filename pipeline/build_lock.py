"""One build at a time per build folder: a second build into the same OUT is refused, never interleaved.

An advisory `flock` on OUT/.gristmill.lock. The kernel releases it when its process ends, however
it ends (kill -9 included), so a killed build never leaves a stale lock behind. It holds between
processes of one machine; on network storage whose flock is not shared between machines (some NFS
setups), two machines could still both build into one folder.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class BuildLocked(RuntimeError):
    """Another process is building into the same folder."""


class BuildLock:
    NAME = ".gristmill.lock"

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.path = self.out / self.NAME
        self._fd: int | None = None

    def __enter__(self) -> BuildLock:
        self.out.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BuildLocked(f"{self.out} is being built by {holder} right now: wait for it to finish, or build "
                              "into another --out folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()}".encode())
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock; the file stays (removing it would race)
            self._fd = None
