"""Run inside a private mount namespace (unshare -m): a store on a small tmpfs of its own, whose disk fills
up (ENOSPC, real: SQLite meets it growing its WAL), then takes writes again when the filler is removed.
Prints one JSON line of what it saw; tests/store/test_store_disk_refusal.py judges it. The mount is gone
when the namespace ends.

    unshare -m --propagation private python -m tests.store.disk_refusal DIR
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from controller.store import Store, StoreError, writer

FS_SIZE = "1m"


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError:
            pass
    return filler


def main(folder: Path) -> dict:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(folder)], check=True)
    writer.RETRY_DELAYS_S = (0.01,)
    writer.HELD_RETRY_S = 0.2
    store = Store(folder / "charger.db")
    store.open()
    out: dict = {}
    store.session_started(1)
    store.flush()
    filler = fill(folder)
    sid = store.session_started(2)
    for i in range(200):  # events enough to need new pages in the WAL
        store.event("filler", "x" * 500, data={"i": i})
    store.session_progress(sid, 0.5, 50.0)
    store.session_ended(sid, energy_kwh=1.25, peak_kw=60.0, stop_reason="ev_stop", error_codes=[])
    store.fault_raised("METER_STALE", "error", "while the disk refused", 2)
    try:
        store.flush()
        out["flush_while_refused"] = "ok"
    except StoreError as exc:
        out["flush_while_refused"] = str(exc)
    stats = store.writer_stats
    out["failing"] = stats.failing_since is not None
    out["held_while_refused"] = stats.held_ops
    out["lost_while_refused"] = stats.dropped_ops
    filler.unlink()
    out["recovered"] = wait_for(lambda: store.writer_stats.failing_since is None)
    store.event("after", "the disk takes writes again")
    store.flush()
    out["recoveries"] = store.writer_stats.recoveries
    sessions = {s["id"]: s for s in store.recent_sessions(10)}
    out["session"] = {k: sessions[sid][k] for k in ("status", "energy_kwh", "stop_reason")} if sid in sessions else None
    out["faults"] = [f["code"] for f in store.fault_history(10)]
    out["event_kinds"] = sorted({e["kind"] for e in store.recent_events(500)})
    store.close()
    again = Store(folder / "charger.db")
    report = again.open()
    out["reopened_interrupted"] = report.interrupted_sessions
    out["reopened_sessions"] = len(again.recent_sessions(10))
    again.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
