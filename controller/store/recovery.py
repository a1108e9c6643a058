"""What open() does to the records a stopped controller left behind.

The controller calls heartbeat() every heartbeat_s; the store keeps the last time
in `runtime.heartbeat_t`. At the next open:

- The controller's last sign of life is the later of that heartbeat and the last
  progress checkpoint of a running session. The crash itself happened at most
  heartbeat_s later, but that is unknown, so downtime starts at the last sign of life
  (never shorter than the truth).
- Every session still `running` becomes `interrupted`, ending at the later of its
  last checkpoint and the last heartbeat, with the energy of its last checkpoint.
- The gap from the last sign of life to now is booked as a closed outage (not
  excluded) for every port the store knows, except ports whose outage was still
  open: that outage stays open from its own start and already covers the gap.
  A clean close() records `clean_stop`, which only changes the outage's reason:
  a port cannot deliver power while the controller is stopped either way.
- A clock that reads earlier than the last heartbeat (a board without a
  battery-backed RTC booting before NTP) books no outage: the downtime is unknown
  and an event says so.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from controller.store.retention import RetentionPolicy, prune
from controller.store.writes import insert_event, set_runtime

REASON_CRASH = "controller not running (crash or power loss)"
REASON_STOPPED = "controller not running (stopped)"
INTERRUPTED_REASON = "interrupted: controller stopped during the session"


@dataclass(frozen=True)
class OpenReport:
    interrupted_sessions: list[int]
    downtime_s: float | None  # None: first open, or the clock went backwards
    # Set when a corrupt file was moved aside and a new store started.
    corrupt_file_moved_to: Path | None = None
    pruned: dict[str, int] = field(default_factory=dict)


def recover_at_open(conn: sqlite3.Connection, now: float, policy: RetentionPolicy) -> OpenReport:
    """Run the recovery in one durable transaction on `conn` (synchronous FULL)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        report = _recover(conn, now, policy)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return report


def _recover(conn: sqlite3.Connection, now: float, policy: RetentionPolicy) -> OpenReport:
    runtime = dict(conn.execute("SELECT key, value FROM runtime").fetchall())
    if "commissioned_t" not in runtime:
        set_runtime(conn, "commissioned_t", now)
    heartbeat_t = runtime.get("heartbeat_t")
    clean_stop = bool(runtime.get("clean_stop", 0.0))
    running = conn.execute("SELECT id, start_t, progress_t FROM sessions WHERE status = 'running' "
                           "ORDER BY id").fetchall()
    alive_marks = [t for t in [heartbeat_t, *(p for _, _, p in running)] if t is not None]
    last_alive = max(alive_marks) if alive_marks else None

    interrupted = []
    for sid, start_t, progress_t in running:
        end_t = max(x for x in (start_t, progress_t, heartbeat_t) if x is not None)
        conn.execute("UPDATE sessions SET status = 'interrupted', end_t = ?, stop_reason = ? "
                     "WHERE id = ?", (end_t, INTERRUPTED_REASON, sid))
        interrupted.append(sid)

    downtime_s = None
    if last_alive is not None and now < last_alive:
        insert_event(conn, now, None, "clock_backwards",
                     "clock reads earlier than the last heartbeat; downtime unknown, no outage booked",
                     json.dumps({"last_alive_t": last_alive, "now": now}))
    elif last_alive is not None:
        downtime_s = now - last_alive
        reason = REASON_STOPPED if clean_stop else REASON_CRASH
        _book_downtime(conn, last_alive, now, reason)
        insert_event(conn, now, None, "controller_down", f"{reason} for {downtime_s:.0f} s",
                     json.dumps({"from_t": last_alive, "to_t": now,
                                 "interrupted_sessions": interrupted}))
    set_runtime(conn, "heartbeat_t", now)
    set_runtime(conn, "clean_stop", 0.0)
    pruned = prune(conn, policy, now)
    return OpenReport(interrupted, downtime_s, None, pruned)


def _book_downtime(conn: sqlite3.Connection, start_t: float, end_t: float, reason: str) -> None:
    if end_t <= start_t:
        return
    conn.execute(
        "INSERT INTO outages (connector, start_t, end_t, excluded, reason) "
        "SELECT connector, ?, ?, 0, ? FROM ports WHERE connector NOT IN "
        "(SELECT connector FROM outages WHERE end_t IS NULL)", (start_t, end_t, reason))
