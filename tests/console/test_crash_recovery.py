"""Issue 6, done-when: charger-controller killed with SIGKILL mid-session, restarted with the same store,
finds the session marked interrupted with its energy so far, and the outage recorded.

Controller and rig run as separate processes on one CAN channel (udp_multicast inside a private network
namespace, as in tests/rig/test_separate_processes.py). The rig's scenario fails once the controller is
gone; that is expected and the rig is simply stopped.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from controller.store import queries
from controller.store.database_file import connect
from controller.store.recovery import INTERRUPTED_REASON, REASON_CRASH
from tests.rig.netns import private_netns

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]
CAN = "udp_multicast:239.74.163.2"
SDP_PORT = 47100  # the controller's [v2g] test door on ::1
MODBUS_BASE_PORT = 1502  # where the desk cabinet's meter and IMD links point


class Controller:
    """charger-controller as a child process; its --events-json lines collected by a thread."""

    def __init__(self, netns: list[str], cabinet: Path, log: Path):
        self._log = log.open("a")
        self.proc = subprocess.Popen(
            [*netns, sys.executable, "-m", "controller", "--config", str(cabinet), "--can", CAN, "--events-json"],
            stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=ROOT)
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def saw(self, predicate) -> bool:
        return any(predicate(e) for e in list(self.events))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=20)
        self._reader.join(timeout=5)
        self._log.close()
        return code


def wait_for(predicate, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running_session_energy(store: Path) -> float:
    """Energy of the running session as last checkpointed in the store (0 before the first checkpoint)."""
    if not store.exists():
        return 0.0
    conn = connect(store, read_only=True)
    try:
        rows = queries.recent_sessions(conn, 1, None)
    finally:
        conn.close()
    return rows[0]["energy_kwh"] if rows and rows[0]["status"] == "running" else 0.0


def test_a_controller_killed_mid_session_finds_it_interrupted_with_its_energy(tmp_path):
    store = tmp_path / "store.db"
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text((ROOT / "hil/setups/desk/cabinet.toml").read_text()
                       + f"\n[v2g]\nenabled = true\ntest_door_direct_tcp = true\nsdp_port = {SDP_PORT}\n"
                       + f"\n[store]\npath = \"{store}\"\n")
    log = tmp_path / "controller.log"
    with private_netns() as netns:
        first = Controller(netns, cabinet, log)
        rig = subprocess.Popen(
            [*netns, sys.executable, "-m", "hil", "rig", "--setup", "desk", "--can", CAN,
             "--secc", f"[::1]:{SDP_PORT}", "--modbus-base-port", str(MODBUS_BASE_PORT),
             "--scenario", "dc-session", "--quiet"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        try:
            wait_for(lambda: first.saw(lambda e: e.get("event") == "phase" and e["state"] == "charging"),
                     "the car charging", 90)
            # the controller checkpoints a running session every few seconds: kill after one with energy
            wait_for(lambda: running_session_energy(store) > 0, "a checkpoint with energy", 30)
            checkpointed_kwh = running_session_energy(store)
            killed_at = time.time()
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        finally:
            if first.proc.poll() is None:
                first.stop(signal.SIGKILL)
            rig.terminate()
            try:
                rig.wait(timeout=20)
            except subprocess.TimeoutExpired:
                rig.kill()
                rig.wait()
        assert not first.saw(lambda e: e.get("event") == "session_ended")  # it really died mid-session

        time.sleep(1.0)  # some downtime to book
        second = Controller(netns, cabinet, log)
        try:
            wait_for(lambda: second.saw(lambda e: e.get("event") == "started"), "the restarted controller", 30)
            conn = connect(store, read_only=True)
            try:
                sessions = queries.recent_sessions(conn, 5, None)
                outages = queries.outages(conn, 1, killed_at - 60, time.time())
                events = queries.recent_events(conn, 100, None)
            finally:
                conn.close()
        finally:
            second.stop()

    assert len(sessions) == 1, sessions
    session = sessions[0]
    assert session["status"] == "interrupted" and session["stop_reason"] == INTERRUPTED_REASON
    assert session["energy_kwh"] == pytest.approx(checkpointed_kwh) and session["energy_kwh"] > 0
    assert session["end_t"] is not None and session["end_t"] <= killed_at
    crash = [o for o in outages if o["reason"] == REASON_CRASH]
    assert len(crash) == 1 and not crash[0]["open"] and not crash[0]["excluded"], outages
    assert crash[0]["start_t"] <= killed_at and crash[0]["duration_s"] >= 1.0
    down = [e for e in events if e["kind"] == "controller_down"]
    assert down and down[0]["data"]["interrupted_sessions"] == [session["id"]]
