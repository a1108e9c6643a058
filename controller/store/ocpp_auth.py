"""The OCPP local authorization list and authorization cache, kept across restarts (OCPP 2.0.1 block C).

Tokens are keyed "TYPE:idToken" (the same idToken of two types are two tokens). idTokenInfo is kept as the
camelCase JSON the CSMS sent. Without a store path both live in memory.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Iterator

from controller.store.database_file import connect

TABLES = (
    "CREATE TABLE IF NOT EXISTS ocpp_local_list (token TEXT PRIMARY KEY, info TEXT NOT NULL)",
    # one row: the list's versionNumber (0: no list)
    "CREATE TABLE IF NOT EXISTS ocpp_local_list_version (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ocpp_auth_cache (token TEXT PRIMARY KEY, info TEXT NOT NULL, "
    "expires_t REAL NOT NULL, used_t REAL NOT NULL)",
)


class AuthStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self._conn = connect(Path(path)) if path else sqlite3.connect(":memory:", isolation_level=None)
        for table in TABLES:
            self._conn.execute(table)

    # ---- the local authorization list ------------------------------------------------------------------
    def local_list(self) -> tuple[int, dict[str, dict]]:
        row = self._conn.execute("SELECT version FROM ocpp_local_list_version").fetchone()
        entries = {token: json.loads(info) for token, info in
                   self._conn.execute("SELECT token, info FROM ocpp_local_list").fetchall()}
        return (row[0] if row else 0), entries

    def save_local_list(self, version: int, changes: dict[str, dict | None], *, full: bool) -> None:
        """One transaction: a full list replaces every entry; a differential one adds, changes or (None)
        removes entries. The version changes with the entries, never alone."""
        with self._transaction():
            if full:
                self._conn.execute("DELETE FROM ocpp_local_list")
            for token, info in changes.items():
                if info is None:
                    self._conn.execute("DELETE FROM ocpp_local_list WHERE token = ?", (token,))
                else:
                    self._conn.execute("INSERT INTO ocpp_local_list (token, info) VALUES (?, ?) ON CONFLICT(token) "
                                       "DO UPDATE SET info = excluded.info", (token, json.dumps(info)))
            self._conn.execute("INSERT INTO ocpp_local_list_version (one, version) VALUES (1, ?) ON CONFLICT(one) "
                               "DO UPDATE SET version = excluded.version", (version,))

    # ---- the authorization cache ------------------------------------------------------------------------
    def cache(self) -> dict[str, tuple[dict, float, float]]:
        """token -> (idTokenInfo, expires_t, used_t)."""
        return {token: (json.loads(info), expires, used) for token, info, expires, used in self._conn.execute(
            "SELECT token, info, expires_t, used_t FROM ocpp_auth_cache").fetchall()}

    def cache_put(self, token: str, info: dict, expires_t: float, used_t: float) -> None:
        self._conn.execute("INSERT INTO ocpp_auth_cache (token, info, expires_t, used_t) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(token) DO UPDATE SET info = excluded.info, expires_t = excluded.expires_t, "
                           "used_t = excluded.used_t", (token, json.dumps(info), expires_t, used_t))

    def cache_remove(self, token: str) -> None:
        self._conn.execute("DELETE FROM ocpp_auth_cache WHERE token = ?", (token,))

    def cache_clear(self) -> None:
        self._conn.execute("DELETE FROM ocpp_auth_cache")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()
