"""Table definitions, the schema version and the migration hook.

Times are UNIX seconds (REAL). JSON columns hold text written by json.dumps.
`runtime` is a small key/value table for the controller's own bookkeeping:
`commissioned_t` (first open, start of the uptime window) and `heartbeat_t`
(last sign of life, used to find downtime after a crash or power cut).
`ports` lists every connector the store has seen, so downtime can be booked
as an outage for each of them.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from controller.store.errors import StoreError

SCHEMA_VERSION = 2

_TABLES_V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runtime (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE ports (connector INTEGER PRIMARY KEY, first_seen_t REAL NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,
    connector INTEGER,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT
);
CREATE INDEX events_t ON events (t);
CREATE INDEX events_connector ON events (connector, id);
CREATE TABLE faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    connector INTEGER,
    severity TEXT NOT NULL,
    detail TEXT NOT NULL,
    raised_t REAL NOT NULL,
    cleared_t REAL
);
CREATE INDEX faults_active ON faults (cleared_t, code, connector);
CREATE INDEX faults_raised ON faults (raised_t);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connector INTEGER NOT NULL,
    start_t REAL NOT NULL,
    end_t REAL,
    energy_kwh REAL NOT NULL DEFAULT 0,
    peak_kw REAL NOT NULL DEFAULT 0,
    progress_t REAL,
    stop_reason TEXT,
    error_codes TEXT NOT NULL DEFAULT '[]',
    evcc_id TEXT,
    energy_source TEXT NOT NULL DEFAULT 'modules',
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'ended', 'interrupted'))
);
CREATE INDEX sessions_connector ON sessions (connector, id);
CREATE INDEX sessions_status ON sessions (status);
CREATE TABLE outages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connector INTEGER NOT NULL,
    start_t REAL NOT NULL,
    end_t REAL,
    excluded INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL
);
CREATE INDEX outages_connector ON outages (connector, start_t);
CREATE INDEX outages_end ON outages (end_t);
"""

# Migration hook: MIGRATIONS[n] upgrades a version-n database to n + 1 inside
# the opening transaction. Add an entry and bump SCHEMA_VERSION together.
Migration = Callable[[sqlite3.Connection], None]

# v2: the OCPP messages that must not be lost (TransactionEvent), kept until the CSMS answered them
OCPP_QUEUE_TABLE = """
CREATE TABLE IF NOT EXISTS ocpp_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    t REAL NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL
)"""


def _add_ocpp_queue(conn: sqlite3.Connection) -> None:
    conn.execute(OCPP_QUEUE_TABLE)


MIGRATIONS: dict[int, Migration] = {1: _add_ocpp_queue}


def ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables in an empty file, or migrate an older one to SCHEMA_VERSION."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        has_version = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not has_version:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise StoreError(path, "the file is an SQLite database but not a charger store "
                                       "(no schema_version table); refusing to touch it")
            for statement in _TABLES_V1.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        version = read_version(conn, path)
        if version > SCHEMA_VERSION:
            raise StoreError(path, f"schema version {version} is newer than this software "
                                   f"understands ({SCHEMA_VERSION}); install the newer controller "
                                   f"or move the file aside")
        while version < SCHEMA_VERSION:
            migrate = MIGRATIONS.get(version)
            if migrate is None:
                raise StoreError(path, f"no migration from schema version {version}")
            migrate(conn)
            version += 1
            conn.execute("UPDATE schema_version SET version = ?", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def read_version(conn: sqlite3.Connection, path: Path) -> int:
    row = conn.execute("SELECT version FROM schema_version").fetchone()
    if row is None:
        raise StoreError(path, "schema_version table is empty")
    return int(row[0])
