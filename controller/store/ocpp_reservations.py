"""The CSMS's reservations (OCPP 2.0.1 block H), kept across restarts.

A reservation is written before ReserveNow is answered Accepted and deleted when it ends (used, expired,
cancelled or removed), so a restart keeps exactly the reservations the CSMS was told about. Without a store
path they live in memory.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_RESERVATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_reservations ("
                           "id INTEGER PRIMARY KEY, expiry REAL NOT NULL, reservation TEXT NOT NULL)")


class ReservationStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_RESERVATIONS_TABLE)

    def load(self) -> list[dict]:
        """Every stored reservation (a dict as save() was given it), oldest id first."""
        rows = self._conn.execute("SELECT reservation FROM ocpp_reservations ORDER BY id").fetchall()
        return [json.loads(row[0]) for row in rows]

    def save(self, reservation_id: int, expiry: float, reservation: dict) -> None:
        self._conn.execute("INSERT INTO ocpp_reservations (id, expiry, reservation) VALUES (?, ?, ?) "
                           "ON CONFLICT(id) DO UPDATE SET expiry = excluded.expiry, "
                           "reservation = excluded.reservation", (reservation_id, expiry, json.dumps(reservation)))

    def delete(self, reservation_id: int) -> None:
        self._conn.execute("DELETE FROM ocpp_reservations WHERE id = ?", (reservation_id,))

    def close(self) -> None:
        self._conn.close()
