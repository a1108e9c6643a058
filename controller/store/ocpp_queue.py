"""The OCPP messages that must not be lost, on disk until the CSMS answered them.

Each append commits synchronously (synchronous=FULL) before it returns, so a message is on disk before
it is sent; a row is deleted only after the CSMS's answer, in the same callback that reads the answer
(controller/ocpp/service.py). A kill -9 after the CSMS answered but before that delete committed sends it
again on the next start (at-least-once; the CSMS sees the same transactionId and seqNo): no station can
know that a CALL it did not see answered was delivered. Without a store path
the queue lives in memory: it survives a lost link, not a restart.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from controller.store.database_file import connect
from controller.store.schema import OCPP_QUEUE_TABLE


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    t: float
    action: str
    payload: dict


class OcppQueue:
    def __init__(self, path: str | Path | None = None) -> None:
        if path:
            # the store's own open() created or migrated the table; IF NOT EXISTS covers a bare file in tests
            self._conn = connect(Path(path))
        else:
            self._conn = sqlite3.connect(":memory:", isolation_level=None)
        self._conn.execute(OCPP_QUEUE_TABLE)
        self.last_id = int(self._conn.execute("SELECT coalesce(max(id), 0) FROM ocpp_queue").fetchone()[0])

    @property
    def connection(self) -> sqlite3.Connection:
        """For the tables that must change in the same commit as the queue (ocpp_transactions)."""
        return self._conn

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One commit for every write inside (the connection is in autocommit mode otherwise)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            self.last_id = int(self._conn.execute("SELECT coalesce(max(id), 0) FROM ocpp_queue").fetchone()[0])
            raise
        self._conn.execute("COMMIT")

    def append(self, action: str, payload: dict, t: float | None = None) -> int:
        cur = self._conn.execute("INSERT INTO ocpp_queue (t, action, payload) VALUES (?, ?, ?)",
                                 (time.time() if t is None else t, action, json.dumps(payload)))
        self.last_id = int(cur.lastrowid)  # AUTOINCREMENT: ids only grow, even after deletes
        return self.last_id

    def pending(self) -> list[QueuedMessage]:
        rows = self._conn.execute("SELECT id, t, action, payload FROM ocpp_queue ORDER BY id").fetchall()
        return [QueuedMessage(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def first(self) -> QueuedMessage | None:
        r = self._conn.execute("SELECT id, t, action, payload FROM ocpp_queue ORDER BY id LIMIT 1").fetchone()
        return QueuedMessage(r[0], r[1], r[2], json.loads(r[3])) if r else None

    def remove(self, message_id: int) -> None:
        """Idempotent: the answer's handler removes it first, the sender again after the call returns."""
        self._conn.execute("DELETE FROM ocpp_queue WHERE id = ?", (message_id,))

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM ocpp_queue").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
