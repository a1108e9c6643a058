"""Open OCPP transactions, kept across restarts (kill -9, power cut): one row per EVSE with its state.

A row is written in the same SQLite transaction as the TransactionEvent that changed it (OcppQueue.atomic),
so the queue and the stored seqNo can never disagree: after a crash the next event gets the next seqNo,
without a gap and without a repeat. The row goes with the Ended event. A clean stop marks the open rows,
so that the next start can tell a reboot (stoppedReason Reboot) from a power loss (PowerLoss).
"""
from __future__ import annotations

import json
import sqlite3

OCPP_TRANSACTIONS_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_transactions ("
                           "evse INTEGER PRIMARY KEY, state TEXT NOT NULL, clean_stop INTEGER NOT NULL DEFAULT 0)")


class TransactionStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        """`conn`: the queue's connection (OcppQueue.connection), so that both change in one commit."""
        self._conn = conn
        self._conn.execute(OCPP_TRANSACTIONS_TABLE)

    def load(self) -> dict[int, tuple[dict, bool]]:
        """evse -> (state, whether the station stopped cleanly since its last event)."""
        rows = self._conn.execute("SELECT evse, state, clean_stop FROM ocpp_transactions ORDER BY evse").fetchall()
        return {int(evse): (json.loads(state), bool(clean)) for evse, state, clean in rows}

    def save(self, evse: int, state: dict) -> None:
        self._conn.execute("INSERT INTO ocpp_transactions (evse, state, clean_stop) VALUES (?, ?, 0) "
                           "ON CONFLICT(evse) DO UPDATE SET state = excluded.state, clean_stop = 0",
                           (evse, json.dumps(state)))

    def delete(self, evse: int) -> None:
        self._conn.execute("DELETE FROM ocpp_transactions WHERE evse = ?", (evse,))

    def mark_clean_stop(self) -> None:
        self._conn.execute("UPDATE ocpp_transactions SET clean_stop = 1")
