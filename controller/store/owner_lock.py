"""One controller process per store file: `<store>.lock` holds a POSIX lock while a Store is open.

Two processes writing the same log would each book the other's sessions as interrupted at their next start
and interleave outages, so the second one is refused with the first one's pid. The lock dies with its
process (even SIGKILL), so a crash never leaves the store locked. POSIX locks belong to the process: a
store reopened inside the same process (a test simulating a restart) is not refused.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from controller.store.errors import StoreError


class StoreOwnerLock:
    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(self.path, f"cannot create the lock file: {exc.strerror}") from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(self.path, f"the store is in use by another controller process (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock; the file stays (removing it would race a new owner)
            self._fd = None
