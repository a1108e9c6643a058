"""The OCPP device model's values set by the CSMS (SetVariables), kept across restarts.

Only values the CSMS changed are stored; every other value is the configuration's default. Without a
store path they live in memory (lost at a restart, as everything else then is).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_VARIABLES_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_variables ("
                        "key TEXT PRIMARY KEY, value TEXT NOT NULL)")  # key: component/evse/connector/variable/instance


class VariableStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_VARIABLES_TABLE)

    def load(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM ocpp_variables").fetchall())

    def save(self, key: str, value: str) -> None:
        self._conn.execute("INSERT INTO ocpp_variables (key, value) VALUES (?, ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def close(self) -> None:
        self._conn.close()
