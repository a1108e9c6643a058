"""What the CSMS decided about the station that must outlive a restart: the operational status of the station
and of each EVSE (ChangeAvailability) and why the next BootNotification happens (a Reset asked for).

A small key/value table of its own; without a store path it lives in memory (lost at a restart, as everything
else then is).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_STATION_STATE_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_station_state ("
                            "key TEXT PRIMARY KEY, value TEXT NOT NULL)")


class StationStateStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_STATION_STATE_TABLE)

    def get(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM ocpp_station_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        self._conn.execute("INSERT INTO ocpp_station_state (key, value) VALUES (?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def take(self, key: str) -> str | None:
        """The value, removed: read once (the reason of the next boot)."""
        value = self.get(key)
        if value is not None:
            self._conn.execute("DELETE FROM ocpp_station_state WHERE key = ?", (key,))
        return value

    def close(self) -> None:
        self._conn.close()
