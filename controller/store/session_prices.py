"""Each session's price, kept for its receipt: the tariff shown before it started, the tariff applied at its
end, energy, final cost and currency, and the CSMS's own total when it gave one.

A side table (CREATE TABLE IF NOT EXISTS, like ocpp_variables) rather than columns added to `sessions`:
adding columns would need a schema-version bump and a migration of every existing store, and a controller
rolled back to an older version would then refuse the newer file. A side table leaves `sessions` and the
schema version alone; an older controller simply ignores it. A receipt is asked for by the connector's
session id (SessionRecord.session_id); those ids count again from 1 after a restart, so a row's key is the
session id with its start time, and `get` gives the latest session of that id. Amounts are decimal strings
(exact).
Without a store path the rows live in memory.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from controller.store.database_file import connect

SESSION_PRICES_TABLE = (
    "CREATE TABLE IF NOT EXISTS session_prices ("
    "session_id TEXT NOT NULL, connector INTEGER NOT NULL, transaction_id TEXT, start_t REAL NOT NULL, "
    "fixed_t REAL, end_t REAL, tariff_shown TEXT, tariff_applied TEXT, energy_kwh TEXT, charging_s REAL, "
    "parking_s REAL, final_cost TEXT, currency TEXT NOT NULL, csms_total_cost TEXT, csms_message TEXT, "
    "PRIMARY KEY (session_id, start_t))")
COLUMNS = ("session_id", "connector", "transaction_id", "start_t", "fixed_t", "end_t", "tariff_shown",
           "tariff_applied", "energy_kwh", "charging_s", "parking_s", "final_cost", "currency",
           "csms_total_cost", "csms_message")
JSON_COLUMNS = ("tariff_shown", "tariff_applied")

log = logging.getLogger(__name__)


class SessionPriceStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(SESSION_PRICES_TABLE)

    def save(self, session_id: str, start_t: float, **values: object) -> None:
        """Insert the session's row or update the columns given (tariffs as dicts, stored as JSON)."""
        unknown = set(values) - set(COLUMNS)
        if unknown or {"session_id", "start_t"} & set(values):
            raise ValueError(f"session_prices: {sorted(unknown or values)[0]!r} cannot be saved this way")
        row = {name: json.dumps(value) if name in JSON_COLUMNS and value is not None else value
               for name, value in values.items()}
        names = ", ".join(["session_id", "start_t", *row])
        marks = ", ".join("?" * (len(row) + 2))
        updates = ", ".join(f"{name} = excluded.{name}" for name in row) or "start_t = excluded.start_t"
        self._conn.execute(f"INSERT INTO session_prices ({names}) VALUES ({marks}) "
                           f"ON CONFLICT(session_id, start_t) DO UPDATE SET {updates}",
                           (session_id, start_t, *row.values()))

    def get(self, session_id: str) -> dict | None:
        """The latest session with this id (ids count again from 1 after a restart)."""
        row = self._conn.execute(f"SELECT {', '.join(COLUMNS)} FROM session_prices WHERE session_id = ? "
                                 "ORDER BY start_t DESC LIMIT 1", (session_id,)).fetchone()
        return None if row is None else _as_dict(row)

    def recent(self, limit: int = 20) -> list[dict]:
        rows = self._conn.execute(f"SELECT {', '.join(COLUMNS)} FROM session_prices ORDER BY start_t DESC LIMIT ?",
                                  (limit,)).fetchall()
        return [_as_dict(row) for row in rows]

    def close(self) -> None:
        self._conn.close()


def _as_dict(row: tuple) -> dict:
    data = dict(zip(COLUMNS, row))
    for name in JSON_COLUMNS:
        if data[name] is not None:
            data[name] = json.loads(data[name])
    return data


def open_session_prices(path: str | Path | None) -> SessionPriceStore:
    """The table in the store's file; in memory when there is no store, or when its disk refuses (a full or
    read-only disk must not keep the charger from charging: the prices are still shown, only not kept)."""
    if path:
        try:
            return SessionPriceStore(path)
        except sqlite3.Error as exc:
            log.error("session prices not kept on disk (%s): %s", path, exc)
    return SessionPriceStore()
