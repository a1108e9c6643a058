"""The firmware update in progress (UpdateFirmware, OCPP 2.0.1 block L), kept across restarts.

One row at most: the CSMS's request and how far it got (a JSON object). After the installer asked for a restart
the next start reads it to tell the CSMS whether the new version runs; a download cut by a restart resumes.
Without a store path it lives in memory (lost at a restart, as everything else then is).
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from controller.store.database_file import connect

OCPP_FIRMWARE_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_firmware ("
                       "slot INTEGER PRIMARY KEY CHECK (slot = 1), job TEXT NOT NULL)")


class FirmwareStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_FIRMWARE_TABLE)

    def load(self) -> dict | None:
        row = self._conn.execute("SELECT job FROM ocpp_firmware WHERE slot = 1").fetchone()
        if row is None:
            return None
        try:
            job = json.loads(row[0])
        except ValueError:  # not ours to guess at: the update is forgotten
            return None
        return job if isinstance(job, dict) else None

    def save(self, job: dict) -> None:
        self._conn.execute("INSERT INTO ocpp_firmware (slot, job) VALUES (1, ?) "
                           "ON CONFLICT(slot) DO UPDATE SET job = excluded.job", (json.dumps(job),))

    def clear(self) -> None:
        self._conn.execute("DELETE FROM ocpp_firmware")

    def close(self) -> None:
        self._conn.close()
