"""One controller process per store file: `<store>.lock` holds a POSIX lock while a Store is open.

Two processes writing the same log would each book the other's sessions as interrupted at their next start
and interleave outages, so the second one is refused with the first one's pid. The lock dies with its
process (even SIGKILL), so a crash never leaves the store locked. POSIX locks belong to the process, and
closing any descriptor of the file drops them: the process keeps one descriptor per lock file, shared by
every Store it has open there (a test simulating a restart reopens in the same process), and closes it with
the last one.
"""
from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from controller.store.errors import StoreError

_held: dict[str, tuple[int, int]] = {}  # lock file's real path -> (descriptor, Stores using it)
_held_lock = threading.Lock()


class StoreOwnerLock:
    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + ".lock")
        self._key: str | None = None

    def acquire(self) -> None:
        if self._key is not None:
            return
        key = os.path.realpath(self.path)
        with _held_lock:
            if key in _held:
                fd, users = _held[key]
                _held[key] = (fd, users + 1)
            else:
                _held[key] = (self._lock(), 1)
        self._key = key

    def _lock(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(self.path, f"cannot create the lock file: {exc.strerror}", environmental=True) from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(self.path, f"the store is in use by another controller process (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def release(self) -> None:
        if self._key is None:
            return
        with _held_lock:
            fd, users = _held.pop(self._key)
            if users > 1:
                _held[self._key] = (fd, users - 1)
            else:
                os.close(fd)  # drops the lock; the file stays (removing it would race a new owner)
        self._key = None
