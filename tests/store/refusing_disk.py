"""A test seam for a disk that refuses the store's writes: SQLite's own error raised at the writer's commit."""
from __future__ import annotations

import sqlite3

from controller.store import writer


class RefusingDisk:
    """Makes every commit of the store's writer fail as SQLite fails on a read-only file, while `on`."""

    def __init__(self, monkeypatch, message: str = "attempt to write a readonly database"):
        self.on = False
        original = writer.StoreWriter._commit

        def commit(this, conn, ops, level):
            if self.on:
                raise sqlite3.OperationalError(message)
            return original(this, conn, ops, level)
        monkeypatch.setattr(writer.StoreWriter, "_commit", commit)
        monkeypatch.setattr(writer, "RETRY_DELAYS_S", (0.01,))
        monkeypatch.setattr(writer, "HELD_RETRY_S", 0.05)
