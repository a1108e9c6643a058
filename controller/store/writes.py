"""The SQL behind each write call. Every function runs inside the writer's transaction.

Each queued call becomes a `WriteOp`: the name of a function below, its arguments,
and whether it must reach the disk with synchronous=FULL (sessions, faults,
outages, heartbeats) or may ride on NORMAL (events).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple


class WriteOp(NamedTuple):
    name: str
    args: tuple[Any, ...]
    durable: bool
    connector: int | None  # registered in `ports` the first time it is seen


def insert_event(conn: sqlite3.Connection, t: float, connector: int | None, kind: str,
                 message: str, data_json: str | None) -> None:
    conn.execute("INSERT INTO events (t, connector, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                 (t, connector, kind, message, data_json))


def raise_fault(conn: sqlite3.Connection, code: str, severity: str, detail: str,
                connector: int | None, t: float) -> None:
    # A fault that is already active stays one row with its first raise time.
    active = conn.execute("SELECT 1 FROM faults WHERE cleared_t IS NULL AND code = ? AND connector IS ?",
                          (code, connector)).fetchone()
    if active is None:
        conn.execute("INSERT INTO faults (code, connector, severity, detail, raised_t) "
                     "VALUES (?, ?, ?, ?, ?)", (code, connector, severity, detail, t))


def clear_fault(conn: sqlite3.Connection, code: str, connector: int | None, t: float) -> None:
    conn.execute("UPDATE faults SET cleared_t = max(raised_t, ?) "
                 "WHERE cleared_t IS NULL AND code = ? AND connector IS ?", (t, code, connector))


def start_session(conn: sqlite3.Connection, sid: int, connector: int, t: float,
                  evcc_id: str | None) -> None:
    conn.execute("INSERT INTO sessions (id, connector, start_t, progress_t, evcc_id) "
                 "VALUES (?, ?, ?, ?, ?)", (sid, connector, t, t, evcc_id))


def session_progress(conn: sqlite3.Connection, sid: int, energy_kwh: float, peak_kw: float,
                     t: float) -> None:
    conn.execute("UPDATE sessions SET energy_kwh = ?, peak_kw = ?, progress_t = ? "
                 "WHERE id = ? AND status = 'running'", (energy_kwh, peak_kw, t, sid))


def end_session(conn: sqlite3.Connection, sid: int, t: float, energy_kwh: float, peak_kw: float,
                stop_reason: str, error_codes_json: str, energy_source: str) -> None:
    conn.execute("UPDATE sessions SET end_t = max(start_t, ?), energy_kwh = ?, peak_kw = ?, "
                 "progress_t = ?, stop_reason = ?, error_codes = ?, energy_source = ?, "
                 "status = 'ended' WHERE id = ?",
                 (t, energy_kwh, peak_kw, t, stop_reason, error_codes_json, energy_source, sid))


def start_outage(conn: sqlite3.Connection, connector: int, t: float, reason: str,
                 excluded: bool) -> None:
    """Open an outage; one already open with another reason or flag is closed at `t` first."""
    current = conn.execute("SELECT id, reason, excluded FROM outages "
                           "WHERE connector = ? AND end_t IS NULL", (connector,)).fetchall()
    if any(reason == r and bool(x) == excluded for _, r, x in current):
        return
    conn.execute("UPDATE outages SET end_t = max(start_t, ?) WHERE connector = ? AND end_t IS NULL",
                 (t, connector))
    conn.execute("INSERT INTO outages (connector, start_t, excluded, reason) VALUES (?, ?, ?, ?)",
                 (connector, t, int(excluded), reason))


def end_outage(conn: sqlite3.Connection, connector: int, t: float) -> None:
    conn.execute("UPDATE outages SET end_t = max(start_t, ?) WHERE connector = ? AND end_t IS NULL",
                 (t, connector))


def set_runtime(conn: sqlite3.Connection, key: str, value: float) -> None:
    conn.execute("INSERT INTO runtime (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def register_port(conn: sqlite3.Connection, connector: int, t: float) -> None:
    conn.execute("INSERT OR IGNORE INTO ports (connector, first_seen_t) VALUES (?, ?)", (connector, t))


WRITERS: dict[str, Callable[..., None]] = {
    "event": insert_event,
    "fault_raised": raise_fault,
    "fault_cleared": clear_fault,
    "session_started": start_session,
    "session_progress": session_progress,
    "session_ended": end_session,
    "outage_started": start_outage,
    "outage_ended": end_outage,
    "runtime": set_runtime,
}
