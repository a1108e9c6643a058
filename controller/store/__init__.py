"""Persistent event, fault, session and outage log (SQLite, WAL) for the controller and NEVI reports.

Wiring in the controller:
- Before the event loop runs: `store = Store(config.store_path, ...)`, `report = store.open()`
  (blocking: file checks, crash recovery, retention). `report.interrupted_sessions` and
  `report.downtime_s` say what the last stop left behind.
- After open, once each port's state is known: `outage_ended(c)` for every port that can deliver
  power (a no-op when none is open) and `outage_started(c, reason)` for every port that cannot.
  Faults still active in `active_faults()` came from the previous run: re-latch or clear them.
- Every `heartbeat_s` from the loop: `store.heartbeat()` (it proves the loop was alive).
- Writes return at once; reads are small indexed queries under 1 ms. `flush()` blocks: tests
  and shutdown only. At shutdown: `store.close()`.
"""
from controller.store.errors import StoreError
from controller.store.recovery import OpenReport
from controller.store.store import Store

__all__ = ["OpenReport", "Store", "StoreError"]
