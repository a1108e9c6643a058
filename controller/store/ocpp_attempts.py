"""Failed attempts per queued OCPP message (MessageAttempts), kept beside the queue so a restart does not give a
message its attempts again: one the CSMS keeps refusing is dropped after MessageAttempts attempts in all.

A row lives as long as its message: removed with it (answered or dropped); rows whose message is gone (a kill
-9 between the two deletes) are cleared at the next start. Same database and connection as the queue.
"""
from __future__ import annotations

import sqlite3

OCPP_ATTEMPTS_TABLE = ("CREATE TABLE IF NOT EXISTS ocpp_attempts ("
                       "message_id INTEGER PRIMARY KEY, failures INTEGER NOT NULL)")  # message_id: ocpp_queue.id


class AttemptCounts:
    def __init__(self, connection: sqlite3.Connection) -> None:
        """`connection`: the queue's (OcppQueue.connection), whose ocpp_queue table exists."""
        self._conn = connection
        self._conn.execute(OCPP_ATTEMPTS_TABLE)
        self._conn.execute("DELETE FROM ocpp_attempts WHERE message_id NOT IN (SELECT id FROM ocpp_queue)")
        # the ids with a row: a message answered at the first attempt (nearly all) costs no write here
        self._counted = {int(r[0]) for r in self._conn.execute("SELECT message_id FROM ocpp_attempts")}

    def get(self, message_id: int) -> int:
        if message_id not in self._counted:
            return 0
        row = self._conn.execute("SELECT failures FROM ocpp_attempts WHERE message_id = ?", (message_id,)).fetchone()
        return int(row[0]) if row else 0

    def note(self, message_id: int, failures: int) -> None:
        self._conn.execute("INSERT INTO ocpp_attempts (message_id, failures) VALUES (?, ?) "
                           "ON CONFLICT(message_id) DO UPDATE SET failures = excluded.failures",
                           (message_id, failures))
        self._counted.add(message_id)

    def forget(self, message_id: int) -> None:
        if message_id not in self._counted:
            return
        self._counted.discard(message_id)
        self._conn.execute("DELETE FROM ocpp_attempts WHERE message_id = ?", (message_id,))
