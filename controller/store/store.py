"""The Store: the controller's persistent event, fault, session and outage log.

Writes return at once (a queue feeds one writer thread, see writer.py); reads run
on a separate connection under a lock, safe to call from the event loop for the
small queries the console makes. See recovery.py for what open() does after a crash,
database_file.py for corrupt files, uptime.py for the NEVI formula.
"""
from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from controller.store import queries
from controller.store.database_file import check_location, connect, identify, open_database, refused_by_disk
from controller.store.errors import StoreError
from controller.store.owner_lock import StoreOwnerLock
from controller.store.recovery import OpenReport, recover_at_open
from controller.store.retention import RetentionPolicy
from controller.store.uptime import YEAR_S, port_uptime
from controller.store.writer import StoreWriter, WriterStats
from controller.store.writes import WriteOp, insert_event

log = logging.getLogger("controller.store")

CLOSE_TIMEOUT_S = 10.0


class Store:
    def __init__(self, path: str | Path, *, event_retention_days: float = 90,
                 event_max_rows: int = 200_000, record_retention_days: float = 400,
                 heartbeat_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.policy = RetentionPolicy(event_retention_days, event_max_rows, record_retention_days)
        self.policy.check()
        if not heartbeat_s > 0:
            raise ValueError(f"heartbeat_s must be positive, got {heartbeat_s}")
        self.heartbeat_s = heartbeat_s  # the controller's period; crash times are known to within it
        self._clock = clock
        self._writer: StoreWriter | None = None
        self._owner = StoreOwnerLock(self.path)
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        # Held while a write is checked and queued, and while close() marks the store closed:
        # every accepted write is queued before the writer's stop marker.
        self._submit_lock = threading.Lock()
        self._last_sid = 0
        self._commissioned_t: float | None = None
        self._closed = False

    # ---- life cycle -------------------------------------------------------------------------

    def open(self) -> OpenReport:
        """Open or create the file, recover from a crash, start the writer. Blocks: call before the loop runs."""
        if self._writer is not None or self._closed:
            raise StoreError(self.path, "open() may be called once per Store")
        check_location(self.path)
        identify(self.path)  # a file that is not ours is refused before even a lock file is made next to it
        self._owner.acquire()  # before the file is touched: it may belong to another live controller
        try:
            opened = open_database(self.path, self._clock)
        except BaseException:
            self._owner.release()
            raise
        try:
            now = self._clock()
            report = recover_at_open(opened.conn, now, self.policy)
            if opened.moved_to is not None:
                report = replace(report, corrupt_file_moved_to=opened.moved_to)
                insert_event(opened.conn, now, None, "store_recovered",
                             f"the previous store was corrupt ({opened.corrupt_reason}); "
                             f"moved to {opened.moved_to}",
                             json.dumps({"moved_to": str(opened.moved_to),
                                         "reason": opened.corrupt_reason}))
            self._last_sid = _last_session_id(opened.conn)
            self._commissioned_t = queries.runtime_value(opened.conn, "commissioned_t")
            ports = {row[0] for row in opened.conn.execute("SELECT connector FROM ports")}
        except sqlite3.Error as exc:
            self._owner.release()
            raise StoreError(self.path, f"recovery at open failed: {exc}",
                             environmental=refused_by_disk(exc)) from None
        except BaseException:
            self._owner.release()
            raise
        finally:
            opened.conn.close()
        writer = StoreWriter(self.path, self.policy, self._clock, ports)
        try:
            writer.start()
            self._reader = connect(self.path, read_only=True, any_thread=True)
        except BaseException as exc:
            writer.stop(CLOSE_TIMEOUT_S)
            self._owner.release()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(self.path, f"cannot open connections: {exc}",
                                 environmental=refused_by_disk(exc)) from None
            raise
        self._writer = writer
        if report.interrupted_sessions or report.downtime_s:
            log.warning("store %s: controller was down %.0f s; sessions interrupted: %s",
                        self.path, report.downtime_s or 0.0, report.interrupted_sessions)
        return report

    def close(self) -> None:
        """Write what is queued (with a last heartbeat marked as a clean stop) and close."""
        if self._writer is None or self._closed:
            self._closed = True
            return
        with self._submit_lock:
            self._closed = True
            self._writer.submit(WriteOp("runtime", ("heartbeat_t", self._clock()), True, None))
            self._writer.submit(WriteOp("runtime", ("clean_stop", 1.0), True, None))
        if not self._writer.stop(CLOSE_TIMEOUT_S):
            log.error("store %s: writer did not finish within %.0f s; queued writes may be lost",
                      self.path, CLOSE_TIMEOUT_S)
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        self._owner.release()

    def flush(self, timeout: float = 5.0) -> None:
        """Block until every write queued before this call is committed with synchronous FULL."""
        marker = self._open_writer().flush(timeout)
        if marker.error is not None:
            raise StoreError(self.path, f"queued writes failed: {marker.error}")

    @property
    def writer_stats(self) -> WriterStats:
        return self._open_writer().stats

    # ---- writes: all return at once ---------------------------------------------------------

    def heartbeat(self) -> None:
        self._submit("runtime", ("heartbeat_t", self._clock()), True, None)

    def event(self, kind: str, message: str, connector: int | None = None,
              data: dict | None = None, t: float | None = None) -> None:
        _check_connector(connector, optional=True)
        # Serialized now: the caller may change `data` after the call returns.
        data_json = None if data is None else json.dumps(data, default=str)
        self._submit("event", (self._t(t), connector, str(kind), str(message), data_json), False, connector)

    def fault_raised(self, code: str, severity: str, detail: str, connector: int | None,
                     t: float | None = None) -> None:
        _check_connector(connector, optional=True)
        self._submit("fault_raised", (str(code), str(severity), str(detail), connector, self._t(t)),
                     True, connector)

    def fault_cleared(self, code: str, connector: int | None, t: float | None = None) -> None:
        _check_connector(connector, optional=True)
        self._submit("fault_cleared", (str(code), connector, self._t(t)), True, connector)

    def session_started(self, connector: int, t: float | None = None, evcc_id: str | None = None) -> int:
        _check_connector(connector, optional=False)
        start_t = self._t(t)
        with self._submit_lock:
            writer = self._open_writer()
            self._last_sid += 1
            sid = self._last_sid
            writer.submit(WriteOp("session_started", (sid, connector, start_t, evcc_id), True, connector))
        return sid

    def session_progress(self, sid: int, energy_kwh: float, peak_kw: float) -> None:
        self._submit("session_progress",
                     (int(sid), _number("energy_kwh", energy_kwh), _number("peak_kw", peak_kw),
                      self._clock()), True, None)

    def session_ended(self, sid: int, *, energy_kwh: float, peak_kw: float, stop_reason: str,
                      error_codes: list[str], energy_source: str = "modules",
                      t: float | None = None) -> None:
        codes_json = json.dumps([str(code) for code in error_codes])
        self._submit("session_ended",
                     (int(sid), self._t(t), _number("energy_kwh", energy_kwh), _number("peak_kw", peak_kw),
                      str(stop_reason), codes_json, str(energy_source)), True, None)

    def outage_started(self, connector: int, reason: str, excluded: bool = False,
                       t: float | None = None) -> None:
        _check_connector(connector, optional=False)
        self._submit("outage_started", (connector, self._t(t), str(reason), bool(excluded)), True, connector)

    def outage_ended(self, connector: int, t: float | None = None) -> None:
        """End the port's open outage; does nothing if none is open (safe to call for every port at start)."""
        _check_connector(connector, optional=False)
        self._submit("outage_ended", (connector, self._t(t)), True, connector)

    # ---- reads ------------------------------------------------------------------------------

    def recent_events(self, limit: int = 50, connector: int | None = None) -> list[dict]:
        return self._read(queries.recent_events, _limit(limit), connector)

    def active_faults(self) -> list[dict]:
        return self._read(queries.active_faults)

    def fault_history(self, limit: int = 50) -> list[dict]:
        return self._read(queries.fault_history, _limit(limit))

    def recent_sessions(self, limit: int = 20, connector: int | None = None) -> list[dict]:
        return self._read(queries.recent_sessions, _limit(limit), connector)

    def outages(self, connector: int | None = None, since: float | None = None) -> list[dict]:
        return self._read(queries.outages, connector, since, self._clock())

    def uptime(self, connector: int, now: float | None = None) -> dict[str, float]:
        """NEVI uptime of one port over the 12 months before `now` (see uptime.py for the window)."""
        _check_connector(connector, optional=False)
        now = self._clock() if now is None else float(now)
        rows = self._read(lambda conn: conn.execute(
            "SELECT start_t, end_t, excluded FROM outages WHERE connector = ? AND start_t < ? "
            "AND (end_t IS NULL OR end_t > ?)", (connector, now, now - YEAR_S)).fetchall())
        return port_uptime([(s, e, bool(x)) for s, e, x in rows], now, self._commissioned_t)

    # ---- internals --------------------------------------------------------------------------

    def _t(self, t: float | None) -> float:
        return self._clock() if t is None else _number("t", t)

    def _open_writer(self) -> StoreWriter:
        if self._closed:
            raise StoreError(self.path, "the store is closed")
        if self._writer is None:
            raise StoreError(self.path, "the store is not open: call open() first")
        return self._writer

    def _submit(self, name: str, args: tuple, durable: bool, connector: int | None) -> None:
        op = WriteOp(name, args, durable, connector)
        with self._submit_lock:
            self._open_writer().submit(op)

    def _read(self, query: Callable[..., Any], *args: Any) -> Any:
        with self._read_lock:
            if self._reader is None:
                raise StoreError(self.path, "the store is closed" if self._closed else "the store is not open")
            return query(self._reader, *args)


def _last_session_id(conn: sqlite3.Connection) -> int:
    # sqlite_sequence remembers ids of pruned sessions, so ids are never reused.
    highest = conn.execute("SELECT coalesce(max(id), 0) FROM sessions").fetchone()[0]
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'sessions'").fetchone()
    return max(int(highest), int(row[0]) if row else 0)


def _check_connector(connector: object, *, optional: bool) -> None:
    if connector is None and optional:
        return
    if isinstance(connector, bool) or not isinstance(connector, int) or connector < 0:
        raise ValueError(f"connector must be a non-negative int{' or None' if optional else ''}, "
                         f"got {connector!r}")


def _number(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive int, got {limit!r}")
    return limit
