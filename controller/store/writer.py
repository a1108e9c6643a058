"""The single writer thread: it owns the write connection and applies queued calls in batches.

Calls from the event loop only put a WriteOp on a queue. The thread takes what is
queued (up to BATCH_MAX ops) and applies it in one transaction. Durability per
table: before each commit the connection's `PRAGMA synchronous` is set to FULL if
the batch holds a durable op (session, fault, outage, heartbeat) and NORMAL if it
holds only events. In WAL mode a FULL commit fsyncs the WAL, which also makes
every earlier NORMAL commit durable; a NORMAL commit may be lost on a power cut
but never corrupts the file. The setting is read back whenever it changes.

A disk that refuses writes (full, read-only, I/O errors) must not stop charging and must not lose the
records that matter: when a commit fails that way, its durable ops (sessions, faults, outages, runtime)
are held, up to HELD_MAX, and tried again before the next batch (at the latest every HELD_RETRY_S);
events are dropped and counted. `stats.failing_since` says the disk refuses writes, until a commit passes.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from controller.store.database_file import connect
from controller.store.retention import RetentionPolicy, prune
from controller.store.writes import WRITERS, WriteOp, register_port

log = logging.getLogger("controller.store")

BATCH_MAX = 500
QUEUE_MAX = 100_000  # bounds memory if the disk stalls; beyond it calls are dropped and counted
RETRY_DELAYS_S = (0.05, 0.25, 1.0)
HELD_MAX = 10_000  # durable writes kept while the disk refuses them: weeks of sessions and faults
HELD_RETRY_S = 5.0
PRUNE_EVERY_S = 3600.0
_SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


@dataclass
class FlushMarker:
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class _Stop:
    """Queued by stop(): the thread applies everything queued before it, then exits.
    The Store refuses writes once it has queued this, so nothing can follow it."""


@dataclass
class WriterStats:
    commits: Counter = field(default_factory=Counter)  # per synchronous level, as read back
    dropped_ops: int = 0
    failed_batches: int = 0
    last_error: str | None = None
    failing_since: float | None = None  # the disk refuses writes since then (None: the last commit passed)
    held_ops: int = 0  # durable writes waiting for the disk
    recoveries: int = 0  # times the disk took writes again after refusing them


class StoreWriter:
    def __init__(self, path: Path, policy: RetentionPolicy, clock: Callable[[], float],
                 known_ports: set[int]) -> None:
        self._path = path
        self._policy = policy
        self._clock = clock
        self._known_ports = set(known_ports)
        self._queue: queue.Queue[WriteOp | FlushMarker | _Stop] = queue.Queue(maxsize=QUEUE_MAX)
        self._level: str | None = None
        self._normal_since_full = False
        self._events_since_prune = 0
        self._last_prune = clock()
        self._prune_every_events = max(1000, policy.event_max_rows // 10)
        self.stats = WriterStats()
        # reason -> how often, since the last flush: bounded by the kinds of error, not by their number
        self._errors_since_flush: dict[str, int] = {}
        self._held: list[WriteOp] = []
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error

    def submit(self, op: WriteOp) -> None:
        try:
            self._queue.put_nowait(op)
        except queue.Full:
            self.stats.dropped_ops += 1
            if self.stats.dropped_ops == 1 or self.stats.dropped_ops % 10_000 == 0:
                log.error("store %s: write queue full, %d writes dropped so far",
                          self._path, self.stats.dropped_ops)

    def flush(self, timeout: float) -> FlushMarker:
        marker = FlushMarker()
        self._queue.put(marker, timeout=timeout)
        if not marker.done.wait(timeout):
            raise TimeoutError(f"store {self._path}: queued writes not durable after {timeout} s")
        return marker

    def stop(self, timeout: float) -> bool:
        """Apply everything queued, close the connection; False if the thread did not finish in time."""
        self._queue.put(_Stop(), timeout=timeout)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            conn = connect(self._path)
        except BaseException as exc:  # reported to start(), never raised in the thread
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        try:
            stopping = False
            while not stopping:
                try:
                    batch = [self._queue.get(timeout=HELD_RETRY_S if self._held else None)]
                except queue.Empty:
                    batch = []  # nothing new: try the held writes again
                while len(batch) < BATCH_MAX:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stopping = any(isinstance(item, _Stop) for item in batch)
                try:
                    self._apply(conn, batch)
                    self._prune_if_due(conn)
                except Exception as exc:  # a bug here must not stop the thread and hang flush()
                    log.exception("store %s: writer error", self._path)
                    self._release_markers(batch, f"writer error: {_describe(exc)}")
        finally:
            if self._held:  # the store closes while the disk still refuses them
                self._lose(self._held, f"still refused at close: {self.stats.last_error}")
                self._held = []
            conn.close()

    def _apply(self, conn: sqlite3.Connection, batch: list) -> None:
        ops = [*self._held, *(item for item in batch if isinstance(item, WriteOp))]
        self._held = []
        markers = [item for item in batch if isinstance(item, FlushMarker)]
        # flush() and close() promise durability: their batch commits FULL.
        wants_sync = bool(markers) or any(isinstance(item, _Stop) for item in batch)
        if not ops and wants_sync and self._normal_since_full:
            # Nothing new to write, but earlier NORMAL commits must reach the disk: a FULL
            # commit of one small row syncs the whole WAL.
            ops = [WriteOp("runtime", ("flushed_t", self._clock()), True, None)]
        if ops:
            durable = wants_sync or any(op.durable for op in ops)
            self._commit_with_retries(conn, ops, "FULL" if durable else "NORMAL")  # losses are noted by _lose
        # A flush reports every write lost since the previous flush, not only in its own batch, and
        # records still held for the disk (they are not durable yet).
        self._release_markers(batch, None)

    def _note_error(self, error: str) -> None:
        self._errors_since_flush[error] = self._errors_since_flush.get(error, 0) + 1

    def _release_markers(self, batch: list, error: str | None) -> None:
        if error is not None:
            self._note_error(error)
        markers = [item for item in batch if isinstance(item, FlushMarker) and not item.done.is_set()]
        if not markers:
            return
        reasons = [reason if n == 1 else f"{reason} (x{n})" for reason, n in self._errors_since_flush.items()]
        if self._held:
            reasons.append(f"{len(self._held)} records held until the disk takes them: {self.stats.last_error}")
        joined = "; ".join(reasons) or None
        self._errors_since_flush.clear()
        for marker in markers:
            marker.error = joined
            marker.done.set()

    def _commit_with_retries(self, conn: sqlite3.Connection, ops: list[WriteOp], level: str) -> str | None:
        """Commit `ops`; a failure other than a busy or full disk is narrowed down to the bad ops."""
        error = None
        for delay in (*RETRY_DELAYS_S, None):
            try:
                self._commit(conn, ops, level)
                return None
            except sqlite3.OperationalError as exc:  # locked, disk full, read-only, I/O error: may pass
                error = _describe(exc)
                if delay is not None:
                    time.sleep(delay)
                    continue
                self._hold(ops, error)
                return error
            except Exception as exc:  # a bad op (constraint, wrong argument): retrying cannot help
                error = _describe(exc)
                if len(ops) > 1:
                    return self._commit_one_by_one(conn, ops, level)
                break
        self._lose(ops, error)
        return error

    def _commit_one_by_one(self, conn: sqlite3.Connection, ops: list[WriteOp], level: str) -> str | None:
        lost: list[WriteOp] = []
        error = None
        for op in ops:
            try:
                self._commit(conn, [op], level)
            except Exception as exc:
                lost.append(op)
                error = f"{op.name}: {_describe(exc)}"
        if lost:
            self._lose(lost, error)
        return error

    def _hold(self, ops: list[WriteOp], error: str) -> None:
        """The disk refused the batch: keep its durable ops for the next try, lose its events."""
        self.stats.failing_since = self.stats.failing_since or self._clock()
        durable = [op for op in ops if op.durable]
        self._held = durable[:HELD_MAX]  # the oldest first: they are retried in order
        self.stats.held_ops = len(self._held)
        lost = [op for op in ops if not op.durable] + durable[HELD_MAX:]
        if lost:
            self._lose(lost, error)
        else:
            self.stats.last_error = error

    def _lose(self, ops: list[WriteOp], error: str | None) -> None:
        self._note_error(str(error))
        self.stats.failed_batches += 1
        self.stats.dropped_ops += len(ops)
        self.stats.last_error = error
        log.error("store %s: %d writes lost (%s): %s",
                  self._path, len(ops), ", ".join(sorted({op.name for op in ops})), error)

    def _commit(self, conn: sqlite3.Connection, ops: list[WriteOp], level: str) -> None:
        self._set_level(conn, level)
        conn.execute("BEGIN IMMEDIATE")
        new_ports: set[int] = set()
        try:
            for op in ops:
                if op.connector is not None and op.connector not in self._known_ports:
                    register_port(conn, op.connector, self._clock())
                    new_ports.add(op.connector)
                WRITERS[op.name](conn, *op.args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._known_ports |= new_ports
        if self.stats.failing_since is not None:
            self.stats.failing_since = None
            self.stats.held_ops = 0
            self.stats.recoveries += 1
            log.warning("store %s: the disk takes writes again", self._path)
        self._events_since_prune += sum(op.name == "event" for op in ops)
        self.stats.commits[level] += 1
        # A FULL commit fsyncs the WAL, and with it every NORMAL commit before it.
        self._normal_since_full = level == "NORMAL"

    def _set_level(self, conn: sqlite3.Connection, level: str) -> None:
        if level == self._level:
            return
        conn.execute(f"PRAGMA synchronous = {level}")
        actual = _SYNC_NAMES.get(conn.execute("PRAGMA synchronous").fetchone()[0])
        if actual != level:
            raise sqlite3.OperationalError(f"PRAGMA synchronous reads {actual} after setting {level}")
        self._level = level

    def _prune_if_due(self, conn: sqlite3.Connection) -> None:
        now = self._clock()
        if self._events_since_prune < self._prune_every_events and now - self._last_prune < PRUNE_EVERY_S:
            return
        self._events_since_prune = 0
        self._last_prune = now
        try:
            self._set_level(conn, "NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                deleted = prune(conn, self._policy, now)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._normal_since_full = True
            if any(deleted.values()):
                log.info("store %s: retention removed %s", self._path, deleted)
        except sqlite3.Error as exc:
            self.stats.last_error = f"retention: {exc}"
            log.error("store %s: retention pruning failed: %s", self._path, exc)


def _describe(exc: BaseException) -> str:
    return f"{exc} ({getattr(exc, 'sqlite_errorname', type(exc).__name__)})"
