"""Issue 19: a store whose disk refuses writes (full, read-only) keeps the records that matter and recovers.

The full disk is real: a 1 MB tmpfs in a private mount namespace (tests/store/disk_refusal.py), filled up, so
SQLite meets ENOSPC growing its WAL. A read-only store cannot be made under a running writer (the kernel
refuses to remount a file system read-only while files on it are open for writing, and root ignores file
modes), so that case raises SQLite's own read-only error at the writer's commit.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.store import Store, StoreError, writer
from controller.store.health import health_of
from tests.store.refusing_disk import RefusingDisk

ROOT = Path(__file__).resolve().parents[2]


def _can_mount_privately() -> str | None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare(1) for a private mount namespace"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    return None if probe.returncode == 0 else f"unshare -m refused: {probe.stderr.decode().strip()[:100]}"


@pytest.mark.timeout(60)
def test_a_full_disk_holds_sessions_and_faults_drops_events_and_recovers(tmp_path):
    reason = _can_mount_privately()
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "mnt"
    folder.mkdir()
    done = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, "-m",
                           "tests.store.disk_refusal", str(folder)],
                          capture_output=True, text=True, cwd=ROOT, timeout=50)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "SQLITE_FULL" in seen["flush_while_refused"]  # flush() never pretends the writes are durable
    assert seen["failing"] and seen["held_while_refused"] >= 3 and seen["lost_while_refused"] >= 1
    assert seen["recovered"] and seen["recoveries"] == 1
    # the session that ended while the disk was full is there, with its energy; so is the fault
    assert seen["session"] == {"status": "ended", "energy_kwh": 1.25, "stop_reason": "ev_stop"}
    assert seen["faults"] == ["METER_STALE"]
    assert seen["event_kinds"] == ["after"]  # the events of the full-disk time are lost (counted), later ones kept
    assert seen["reopened_sessions"] == 2 and seen["reopened_interrupted"] == [1]  # session 1 never ended
    assert not (folder / "charger.db").exists()  # the tmpfs went with the namespace: nothing left behind


def _until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.timeout(30)
def test_a_read_only_store_holds_records_says_so_and_writes_them_when_writable_again(db_path, monkeypatch):
    disk = RefusingDisk(monkeypatch)
    store = Store(db_path)
    store.open()
    try:
        disk.on = True
        sid = store.session_started(1)
        store.event("lost", "while read-only")
        store.session_ended(sid, energy_kwh=2.5, peak_kw=50.0, stop_reason="ev_stop", error_codes=[])
        with pytest.raises(StoreError, match="readonly"):
            store.flush()
        health = health_of(store)
        assert not health.ok and health.held_writes >= 2 and health.lost_writes >= 1
        assert "WRITES FAILING" in health.text() and "readonly" in health.text()
        disk.on = False
        _until(lambda: health_of(store).ok)  # the held records are retried without any new write
        store.flush()
        assert health_of(store).text() == f"store: ok ({health_of(store).lost_writes} writes lost since start)"
        session = store.recent_sessions(1)[0]
        assert (session["id"], session["status"], session["energy_kwh"]) == (sid, "ended", 2.5)
        assert [e["kind"] for e in store.recent_events()] == []
    finally:
        disk.on = False
        store.close()


@pytest.mark.timeout(30)
def test_held_records_are_bounded_and_the_excess_is_counted_as_lost(db_path, monkeypatch):
    disk = RefusingDisk(monkeypatch, "database or disk is full")
    monkeypatch.setattr(writer, "HELD_MAX", 3)
    store = Store(db_path)
    store.open()
    try:
        disk.on = True
        for _ in range(10):
            store.session_started(1)
        with pytest.raises(StoreError):
            store.flush()
        health = health_of(store)
        assert health.held_writes == 3 and health.lost_writes >= 7
        disk.on = False
        _until(lambda: health_of(store).ok)
        store.flush()
        assert len(store.recent_sessions(20)) == 3
    finally:
        disk.on = False
        store.close()


@pytest.mark.timeout(30)
def test_a_long_refusal_is_reported_once_with_a_count_not_once_per_batch(db_path, monkeypatch):
    disk = RefusingDisk(monkeypatch, "database or disk is full")
    store = Store(db_path)
    store.open()
    try:
        disk.on = True
        for i in range(40):  # one batch each: the writer waits for the disk between them
            store.event("lost", str(i))
            _until(lambda: health_of(store).lost_writes > i)
        with pytest.raises(StoreError) as refused:
            store.flush()
        assert "database or disk is full (OperationalError) (x40)" in str(refused.value)
        assert len(str(refused.value)) < 300
    finally:
        disk.on = False
        store.close()
