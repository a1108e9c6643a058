"""reset-onidle and change-availability through the whole rig: a car over DIN 70121, the controller, and the
rig's CSMS (hil/csms/role_availability.py), which checks every frame against the 2.0.1 schemas."""
from __future__ import annotations

import asyncio

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


def _run(name: str) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup("desk"), protocol="din"))
    assert not problems, (problems, report)
    return report


def test_reset_on_idle_waits_for_the_transaction_then_restarts_as_remote_reset():
    report = _run("reset-onidle")
    ocpp = report["ocpp"]
    assert ocpp["violations"] == []
    assert ocpp["notes"] == ["Reset OnIdle: Scheduled", "BootNotification RemoteReset after the Reset",
                             "every connector Available after the restart"]
    assert report["connectors"][0]["car"]["reason"] == "target_soc"  # the reset never cut the session short
    events = ocpp["transaction_events"]
    assert events[-1]["type"] == "Ended" and [e["seq"] for e in events] == list(range(len(events)))


def test_change_availability_is_scheduled_then_made_and_undone():
    report = _run("change-availability")
    ocpp = report["ocpp"]
    assert ocpp["violations"] == []
    assert ocpp["notes"] == ["ChangeAvailability Inoperative evse 1: Scheduled",
                             "evse 1 Unavailable after its transaction ended",
                             "ChangeAvailability Operative evse 1: Accepted", "evse 1 Available again"]
    assert report["connectors"][0]["car"]["reason"] == "target_soc"


def test_reset_with_the_controller_in_its_own_process_exits_and_is_started_again(tmp_path):
    """The controller exits with its restart status (as under systemd) and the rig's handle starts it again."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.rig.netns import private_netns

    root = Path(__file__).resolve().parents[2]
    with private_netns() as netns:
        command = [*netns, sys.executable, "-m", "hil", "run", "--separate-process", "--can",
                   "udp_multicast:239.74.163.3", "--scenario", "reset-onidle", "--quiet", "--report",
                   str(tmp_path / "report.json")]
        done = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["controller"] == "process" and report["ocpp"]["violations"] == []
    assert "BootNotification RemoteReset after the Reset" in report["ocpp"]["notes"]
    # the restart may trip the board's heartbeat watchdog (a process start takes longer than its 0.3 s), but only
    # after the session: the car finished and the session ended for the car's stop, never for a fault
    connector = report["connectors"][0]
    assert connector["car"]["reason"] == "target_soc" and connector["stop_reason"] == "ev_stop"
    assert all(f["code"] == "IO_WATCHDOG_TRIPPED" for f in report["faults"])
