"""Opening the database file: connection settings, checks, and recovery from corruption.

Recovery from a corrupt file (SQLite reports "file is not a database" or "database
disk image is malformed", or `PRAGMA quick_check` finds damage): the file and its
-wal/-shm companions are renamed to `<name>.corrupt-<UTC stamp>` (companions keep
their -wal/-shm suffix so `sqlite3 <moved file> .recover` can still read them
together), the move is logged at ERROR with the path and the reason, and a new
empty store is created. This happens once per open: if the new file fails too,
StoreError is raised. Other failures (permission denied, a directory in the way,
disk full, locked by another process) never move anything: they raise StoreError.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controller.store.errors import StoreError
from controller.store.schema import ensure_schema

log = logging.getLogger("controller.store")

_CORRUPTION_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_COMPANIONS = ("-wal", "-shm")
BUSY_TIMEOUT_MS = 2000
_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100


class _CorruptDatabase(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OpenedFile:
    conn: sqlite3.Connection
    moved_to: Path | None  # where a corrupt file was moved, if it was
    corrupt_reason: str | None


def connect(path: Path, *, read_only: bool = False, any_thread: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the store's settings."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=not any_thread)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if read_only:
            conn.execute("PRAGMA query_only = 1")
        else:
            # Keep the WAL file from growing without bound after a checkpoint.
            conn.execute("PRAGMA journal_size_limit = 4194304")
            conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn


def open_database(path: Path, clock: Callable[[], float]) -> OpenedFile:
    """Open (or create) the store at `path`, moving a corrupt file aside once."""
    check_location(path)
    try:
        return OpenedFile(_open_checked(path), None, None)
    except _CorruptDatabase as corrupt:
        reason = corrupt.reason
    moved_to = _move_aside(path, clock())
    log.error("store %s is corrupt (%s); moved it to %s and started a new store",
              path, reason, moved_to)
    try:
        return OpenedFile(_open_checked(path), moved_to, reason)
    except _CorruptDatabase as again:
        raise StoreError(path, f"new store is corrupt right after creation: {again.reason}") from None


def check_location(path: Path) -> None:
    """The folder exists (made if needed) and the file, if any, is a regular file we may read and write."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(path, f"cannot create the folder {path.parent}: {exc.strerror or exc}") from None
    if path.exists() and not path.is_file():
        raise StoreError(path, "the path exists but is not a regular file")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(path, "no permission to read and write the file")
    if not os.access(path.parent, os.W_OK):
        raise StoreError(path, f"no permission to write in {path.parent} (SQLite needs its -wal file there)")


def _check_header(path: Path) -> None:
    # Checked before SQLite opens the file: closing a connection may delete or checkpoint
    # the -wal file, and a -wal next to a damaged file is worth keeping for `.recover`.
    try:
        with open(path, "rb") as file:
            header = file.read(_HEADER_SIZE)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(path, f"cannot read the file: {exc.strerror or exc}") from None
    if header and (len(header) < _HEADER_SIZE or not header.startswith(_MAGIC)):
        raise _CorruptDatabase("file is not a database (no SQLite header)")


def _open_checked(path: Path) -> sqlite3.Connection:
    _check_header(path)
    try:
        conn = connect(path)
    except sqlite3.Error as exc:
        raise _classify(path, exc) from None
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(path, f"could not switch to WAL journal mode (got {mode!r})")
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _CorruptDatabase("quick_check: " + "; ".join(problems))
        ensure_schema(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise _classify(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _classify(path: Path, exc: sqlite3.Error) -> Exception:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and (code & 0xFF) in _CORRUPTION_CODES:
        return _CorruptDatabase(str(exc))
    return StoreError(path, f"{exc} ({getattr(exc, 'sqlite_errorname', type(exc).__name__)})")


def _move_aside(path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    try:
        for suffix in ("", *_COMPANIONS):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{target}{suffix}"))
    except OSError as exc:
        raise StoreError(path, f"corrupt, and moving it aside to {target} failed: "
                               f"{exc.strerror or exc}") from None
    return target
