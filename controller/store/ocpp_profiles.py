"""The charging profiles the CSMS installed (SetChargingProfile), kept across restarts (K01: a station keeps
its profiles through a reboot). Stored as the CSMS sent them (JSON) with their EVSE. Without a store path they
live in memory.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_PROFILES_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_charging_profiles ("
                       "id INTEGER PRIMARY KEY, evse INTEGER NOT NULL, profile TEXT NOT NULL)")


class ProfileStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_PROFILES_TABLE)

    def load(self) -> list[tuple[int, dict]]:
        """(evse, chargingProfile JSON) of every stored profile, by id."""
        rows = self._conn.execute("SELECT evse, profile FROM ocpp_charging_profiles ORDER BY id").fetchall()
        return [(evse, json.loads(text)) for evse, text in rows]

    def save(self, profile_id: int, evse: int, profile: dict) -> None:
        self._conn.execute("INSERT INTO ocpp_charging_profiles (id, evse, profile) VALUES (?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET evse = excluded.evse, profile = excluded.profile",
                           (profile_id, evse, json.dumps(profile, separators=(",", ":"))))

    def delete(self, profile_ids: list[int]) -> None:
        self._conn.executemany("DELETE FROM ocpp_charging_profiles WHERE id = ?", [(i,) for i in profile_ids])

    def close(self) -> None:
        self._conn.close()
