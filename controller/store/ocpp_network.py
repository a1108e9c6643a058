"""The station's network connection profiles (OCPP SetNetworkProfile) and their priority, kept across restarts.

A key-value table of its own: "slot/<n>" holds one profile as JSON, "priority" the NetworkConfigurationPriority
list, "floor" the highest security profile a link has used (never gone below again). Without a store path it
lives in memory.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_NETWORK_TABLE = "CREATE TABLE IF NOT EXISTS ocpp_network (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class NetworkStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_NETWORK_TABLE)

    def load(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM ocpp_network").fetchall())

    def save(self, key: str, value: str) -> None:
        self._conn.execute("INSERT INTO ocpp_network (key, value) VALUES (?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def close(self) -> None:
        self._conn.close()
