"""Read queries for the console and the NEVI report; each returns plain dicts.

They run on the store's read connection. WAL lets them run beside the writer;
they see what the writer has committed, so a call made a moment ago may not be
visible until the writer's next commit (flush() waits for it).
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any


def _rows(conn: sqlite3.Connection, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def recent_events(conn: sqlite3.Connection, limit: int, connector: int | None) -> list[dict]:
    if connector is None:
        rows = _rows(conn, "SELECT id, t, connector, kind, message, data FROM events "
                           "ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = _rows(conn, "SELECT id, t, connector, kind, message, data FROM events "
                           "WHERE connector = ? ORDER BY id DESC LIMIT ?", (connector, limit))
    for row in rows:
        row["data"] = None if row["data"] is None else json.loads(row["data"])
    return rows


_FAULT_COLUMNS = "id, code, connector, severity, detail, raised_t, cleared_t"


def active_faults(conn: sqlite3.Connection) -> list[dict]:
    return _with_active(_rows(conn, f"SELECT {_FAULT_COLUMNS} FROM faults WHERE cleared_t IS NULL "
                                    "ORDER BY raised_t, id"))


def fault_history(conn: sqlite3.Connection, limit: int) -> list[dict]:
    return _with_active(_rows(conn, f"SELECT {_FAULT_COLUMNS} FROM faults "
                                    "ORDER BY raised_t DESC, id DESC LIMIT ?", (limit,)))


def _with_active(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["active"] = row["cleared_t"] is None
    return rows


_SESSION_COLUMNS = ("id, connector, start_t, end_t, energy_kwh, peak_kw, stop_reason, error_codes, "
                    "evcc_id, energy_source, status")


def recent_sessions(conn: sqlite3.Connection, limit: int, connector: int | None) -> list[dict]:
    if connector is None:
        rows = _rows(conn, f"SELECT {_SESSION_COLUMNS} FROM sessions ORDER BY id DESC LIMIT ?", (limit,))
    else:
        rows = _rows(conn, f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE connector = ? "
                           "ORDER BY id DESC LIMIT ?", (connector, limit))
    for row in rows:
        row["error_codes"] = json.loads(row["error_codes"])
        row["duration_s"] = None if row["end_t"] is None else row["end_t"] - row["start_t"]
    return rows


def outages(conn: sqlite3.Connection, connector: int | None, since: float | None,
            now: float) -> list[dict]:
    """Outages overlapping [since, now], oldest first; an open one has end_t None and lasts until now."""
    clauses, params = [], []
    if connector is not None:
        clauses.append("connector = ?")
        params.append(connector)
    if since is not None:
        clauses.append("(end_t IS NULL OR end_t >= ?)")
        params.append(since)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = _rows(conn, f"SELECT id, connector, start_t, end_t, excluded, reason FROM outages {where} "
                       "ORDER BY start_t, id", tuple(params))
    for row in rows:
        row["excluded"] = bool(row["excluded"])
        row["open"] = row["end_t"] is None
        row["duration_s"] = max(0.0, (now if row["open"] else row["end_t"]) - row["start_t"])
    return rows


def runtime_value(conn: sqlite3.Connection, key: str) -> float | None:
    row = conn.execute("SELECT value FROM runtime WHERE key = ?", (key,)).fetchone()
    return None if row is None else float(row[0])
