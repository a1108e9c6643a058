"""The variable monitors the CSMS set (SetVariableMonitoring), kept across restarts until it clears them.

Each monitor is one row: its id and the monitor as JSON (type, value, severity, transaction, component,
variable). Without a store path they live in memory.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_MONITORS_TABLE = "CREATE TABLE IF NOT EXISTS ocpp_monitors (id INTEGER PRIMARY KEY, monitor TEXT NOT NULL)"


class MonitorStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_MONITORS_TABLE)

    def load(self) -> dict[int, dict]:
        return {row_id: json.loads(text) for row_id, text in
                self._conn.execute("SELECT id, monitor FROM ocpp_monitors ORDER BY id").fetchall()}

    def save(self, monitor_id: int, monitor: dict) -> None:
        self._conn.execute("INSERT INTO ocpp_monitors (id, monitor) VALUES (?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET monitor = excluded.monitor", (monitor_id, json.dumps(monitor)))

    def delete(self, monitor_id: int) -> None:
        self._conn.execute("DELETE FROM ocpp_monitors WHERE id = ?", (monitor_id,))

    def close(self) -> None:
        self._conn.close()
