"""Opening the database file: connection settings, checks, and recovery from corruption.

Recovery from a corrupt file (SQLite reports "file is not a database" or "database
disk image is malformed", or `PRAGMA quick_check` finds damage): the file and its
-wal/-shm companions are renamed to `<name>.corrupt-<UTC stamp>` (companions keep
their -wal/-shm suffix so `sqlite3 <moved file> .recover` can still read them
together), the move is logged at ERROR with the path and the reason, and a new
empty store is created. This happens once per open: if the new file fails too,
StoreError is raised. Other failures (permission denied, a directory in the way,
disk full, locked by another process) never move anything: they raise StoreError.

Only our own file is ever moved aside or written: `identify()` runs before anything else and
refuses (StoreError, the file untouched, no companion or lock file made) any existing file that is
not recognisably a charger store. Ours means: an SQLite header carrying APPLICATION_ID (set in
the main file before it switches to WAL, so even a crash right after creation leaves it there), or
a store from before that mark (application id 0 with our schema_version table; the mark is added
at open). A file with no content (0 bytes, or an SQLite file without a single table) is adopted:
there is nothing in it to lose. Anything else, the cabinet TOML, a system file, a damaged file we
cannot prove is ours, another program's database, is refused.
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
_DISK_CODES = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR,
               sqlite3.SQLITE_PERM}
_COMPANIONS = ("-wal", "-shm")
BUSY_TIMEOUT_MS = 2000
# Page cache per connection, in KiB (SQLite's default is 2,000): the writer appends and the console reads a
# few recent rows, so a small cache costs nothing, and the controller's memory stays flat as the file grows
# (make soak: the default cache filling up was most of the RSS growth over 1,000 sessions).
CACHE_KIB = 256
_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100
APPLICATION_ID = 0x43484752  # "CHGR" in the SQLite header (offset 68): this file is a charger store
_APPLICATION_ID_AT = 68
_PAGE_SIZE_AT = 16


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
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
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
    """Open (or create) the store at `path`, moving a corrupt file of ours aside once."""
    check_location(path)
    identify(path)
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
        raise StoreError(path, f"cannot create the folder {path.parent}: {exc.strerror or exc}",
                         environmental=True) from None
    if path.exists() and not path.is_file():
        raise StoreError(path, "the path exists but is not a regular file")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(path, "no permission to read and write the file", environmental=True)
    if not os.access(path.parent, os.W_OK):
        raise StoreError(path, f"no permission to write in {path.parent} (SQLite needs its -wal file there)",
                         environmental=True)


def identify(path: Path) -> str:
    """"new" (absent or without content), "ours" or "legacy" (ours, before the mark); StoreError otherwise."""
    header = _read_header(path)
    if header is None or not header:
        return "new"
    refuse = "refusing to touch it; point store.path at a new file or at an existing charger store"
    if len(header) < _HEADER_SIZE or not header.startswith(_MAGIC):
        raise StoreError(path, f"the file exists and is not a charger store (no SQLite header); {refuse}")
    application_id = int.from_bytes(header[_APPLICATION_ID_AT:_APPLICATION_ID_AT + 4], "big")
    if application_id == APPLICATION_ID:
        return "ours"
    if application_id != 0:
        raise StoreError(path, f"the file is the SQLite database of another program (application id "
                               f"0x{application_id:08x}); {refuse}")
    tables = _tables_of_unmarked(path, refuse)
    wal = Path(f"{path}-wal")
    if not tables and wal.exists() and wal.stat().st_size > 0:
        # its tables may be in the log, which cannot be read without changing the file: not provably ours
        raise StoreError(path, f"the file is an SQLite database without our mark and with a pending write-ahead "
                               f"log ({wal.name}); {refuse}")
    if not tables:
        return "new"
    if "schema_version" in tables:
        return "legacy"
    raise StoreError(path, f"the file is an SQLite database but not a charger store (tables: "
                           f"{', '.join(sorted(tables)[:5])}); {refuse}")


def _read_header(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as file:
            return file.read(_HEADER_SIZE)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(path, f"cannot read the file: {exc.strerror or exc}") from None


def _tables_of_unmarked(path: Path, refuse: str) -> set[str]:
    # immutable=1: SQLite neither locks nor writes anything, not even a -wal or -shm next to the file.
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(path, f"the file has an SQLite header but cannot be read as a charger store "
                               f"({exc}); {refuse}") from None


def _check_header(path: Path) -> None:
    # Checked before SQLite opens the file: closing a connection may delete or checkpoint
    # the -wal file, and a -wal next to a damaged file is worth keeping for `.recover`.
    header = _read_header(path)
    if not header:
        return
    if len(header) < _HEADER_SIZE or not header.startswith(_MAGIC):
        raise _CorruptDatabase("file is not a database (no SQLite header)")
    page_size = int.from_bytes(header[_PAGE_SIZE_AT:_PAGE_SIZE_AT + 2], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise _CorruptDatabase(f"invalid page size {page_size} in the header")
    size = path.stat().st_size
    if size % page_size:
        raise _CorruptDatabase(f"truncated: {size} bytes is not a whole number of {page_size}-byte pages")


def _open_checked(path: Path) -> sqlite3.Connection:
    kind = identify(path)
    _check_header(path)
    try:
        conn = connect(path)
    except sqlite3.Error as exc:
        raise _classify(path, exc) from None
    try:
        if kind == "new":
            # Into the main file before WAL mode: the mark survives a crash before the first checkpoint.
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(path, f"could not switch to WAL journal mode (got {mode!r})")
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise _CorruptDatabase("quick_check: " + "; ".join(problems))
        ensure_schema(conn, path)
        if kind == "legacy":
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
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
    return StoreError(path, f"{exc} ({getattr(exc, 'sqlite_errorname', type(exc).__name__)})",
                      environmental=refused_by_disk(exc))


def refused_by_disk(exc: sqlite3.Error) -> bool:
    """SQLite says the disk refused: read-only, full, cannot open or create, no permission, I/O error."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _DISK_CODES


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
