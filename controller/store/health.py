"""The store's health as the cabinet sees it: STORE_WRITE_FAILED while the disk refuses the store's writes.

The writer thread keeps charging-relevant records (sessions, faults, outages) for a later try and drops
events while the disk is full, read-only or failing (writer.py); this watch turns that into a cabinet-wide
warning fault, raised on the first refused commit and cleared by the first commit that passes again. The
fault goes out as a "fault" event with no connector, so the console, the event log and the store itself
(once it takes writes again) all get it. Charging is never stopped for it: the store is a log, not a
safety function.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.faults import Fault
from controller.formats.events import EventSink, FaultCleared, FaultRaised

log = logging.getLogger("controller.store")
CODE = "STORE_WRITE_FAILED"


@dataclass(frozen=True)
class StoreHealth:
    ok: bool
    failing_since: float | None
    last_error: str | None
    held_writes: int  # durable records waiting for the disk
    lost_writes: int  # events (and anything beyond the held bound) that were dropped

    def text(self) -> str:
        if self.ok:
            return f"store: ok ({self.lost_writes} writes lost since start)" if self.lost_writes else "store: ok"
        return (f"store: WRITES FAILING since {time.strftime('%H:%M:%S', time.localtime(self.failing_since))}"
                f" ({self.last_error}); {self.held_writes} records held for a retry, {self.lost_writes} writes lost")


def health_of(store) -> StoreHealth:
    stats = store.writer_stats
    return StoreHealth(stats.failing_since is None, stats.failing_since, stats.last_error, stats.held_ops,
                       stats.dropped_ops)


class StoreHealthWatch:
    def __init__(self, store, emit: EventSink, wall_clock: Callable[[], float] = time.time):
        self.store = store  # None: the store could not be opened at start (`unopened`)
        self._emit = emit
        self._wall_clock = wall_clock
        self.active: Fault | None = None
        self.unopened_reason: str | None = None

    @classmethod
    def unopened(cls, reason: str, emit: EventSink) -> "StoreHealthWatch":
        """The disk refused the store at start: the controller charges without a log until it is restarted
        with a writable store; the fault stays raised meanwhile."""
        watch = cls(None, emit)
        watch.unopened_reason = reason
        detail = f"store not opened: {reason}"
        watch.active = Fault(CODE, None, detail, watch._wall_clock())
        log.error("%s; charging goes on without the event and session log", detail)
        watch._send(True, detail)
        return watch

    def text(self) -> str | None:
        """The console's `status` line about the store, or None without a store configured."""
        if self.unopened_reason is not None:
            return (f"store: NOT OPEN ({self.unopened_reason}); nothing is recorded until the controller is "
                    "restarted with a writable store")
        return health_of(self.store).text()

    def check(self) -> None:
        """Called from the control loop: raise or clear the fault when the writer's view changed."""
        if self.store is None:
            return
        health = health_of(self.store)
        if not health.ok and self.active is None:
            detail = f"writes refused: {health.last_error}"
            self.active = Fault(CODE, None, detail, self._wall_clock())
            log.error("store %s: %s; charging goes on, records are held for a retry", self.store.path, detail)
            self._send(True, detail)
        elif health.ok and self.active is not None:
            self.active = None
            self._send(False, "")

    def _send(self, active: bool, detail: str) -> None:
        event = FaultRaised if active else FaultCleared
        self._emit(event(None, CODE, "warning", detail, self._wall_clock()))  # no connector: cabinet-wide
