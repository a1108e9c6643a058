"""Retention: events by age and row count; finished records by age.

Running sessions, active faults and open outages are never pruned, whatever their age.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

DAY_S = 86400.0
# NEVI uptime looks back 12 months; records must outlive that window.
MIN_RECORD_RETENTION_DAYS = 366.0


@dataclass(frozen=True)
class RetentionPolicy:
    event_days: float
    event_max_rows: int
    record_days: float

    def check(self) -> None:
        if not self.event_days > 0:
            raise ValueError(f"event_retention_days must be positive, got {self.event_days}")
        if self.event_max_rows < 1:
            raise ValueError(f"event_max_rows must be at least 1, got {self.event_max_rows}")
        if not self.record_days >= MIN_RECORD_RETENTION_DAYS:
            raise ValueError(f"record_retention_days must be at least {MIN_RECORD_RETENTION_DAYS:g} "
                             f"so the 12-month NEVI uptime can be computed, got {self.record_days}")


def prune(conn: sqlite3.Connection, policy: RetentionPolicy, now: float) -> dict[str, int]:
    """Delete what the policy no longer keeps; returns rows deleted per table. Caller holds the transaction."""
    event_cutoff = now - policy.event_days * DAY_S
    record_cutoff = now - policy.record_days * DAY_S
    deleted = {"events": conn.execute("DELETE FROM events WHERE t < ?", (event_cutoff,)).rowcount}
    # The oldest rows beyond the limit, found through the primary key (newest id kept).
    deleted["events"] += conn.execute(
        "DELETE FROM events WHERE id < (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (policy.event_max_rows - 1,)).rowcount
    deleted["sessions"] = conn.execute(
        "DELETE FROM sessions WHERE status != 'running' AND end_t < ?", (record_cutoff,)).rowcount
    deleted["faults"] = conn.execute(
        "DELETE FROM faults WHERE cleared_t IS NOT NULL AND cleared_t < ?", (record_cutoff,)).rowcount
    deleted["outages"] = conn.execute(
        "DELETE FROM outages WHERE end_t IS NOT NULL AND end_t < ?", (record_cutoff,)).rowcount
    return deleted
