"""OCPP 2.0.1 scenarios through the whole rig: the controller's connectors, a car over DIN 70121 and the
rig's CSMS (hil/csms), which checks every frame the station sends against the 2.0.1 schemas."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]


def _run(name: str, setup: str = "desk") -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup(setup), protocol="din"))
    assert not problems, (problems, report)
    return report


@pytest.mark.parametrize("name,profile", [("remote-start", 1), ("remote-start-wss", 2), ("remote-start-mtls", 3)])
def test_remote_start_and_stop_by_the_csms(name, profile):
    report = _run(name)
    ocpp = report["ocpp"]
    assert ocpp["security_profile"] == profile and ocpp["violations"] == []
    assert ocpp["notes"][0].endswith("Accepted") and ocpp["notes"][1].startswith("RequestStopTransaction")
    triggers = [e["trigger"] for e in ocpp["transaction_events"]]
    assert triggers[0] == "CablePluggedIn" and "RemoteStart" in triggers and triggers[-1] == "RemoteStop"
    assert report["connectors"][0]["stop_reason"] == "remote" and report["connectors"][0]["energy_kwh"] > 0
    lines = Path(ocpp["traffic_jsonl"]).read_text().splitlines()
    assert len(lines) == ocpp["frames"]  # every frame, both ways


def test_offline_session_charges_on_and_every_event_arrives_once_in_order():
    report = _run("offline-session")
    ocpp = report["ocpp"]
    assert ocpp["outage"] is not None and ocpp["violations"] == []
    events = ocpp["transaction_events"]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert len({e["tx"] for e in events}) == 1
    offline = [e for e in events if e["offline"]]
    assert any(e["state"] == "Charging" for e in offline)  # made while charging with the CSMS away
    assert report["connectors"][0]["car"]["reason"] == "target_soc"
    assert events[-1]["type"] == "Ended"


def test_nevi_four_ports_four_transactions_started_by_the_csms():
    report = _run("remote-start", "nevi")
    events = report["ocpp"]["transaction_events"]
    started = [e for e in events if e["type"] == "Started"]
    assert sorted(e["evse"] for e in started) == [1, 2, 3, 4]
    assert len({e["tx"] for e in events}) == 4
    assert sum(e["trigger"] == "RemoteStart" for e in events) == 4
    assert [c["stop_reason"] for c in report["connectors"]] == ["remote", "ev_stop", "ev_stop", "ev_stop"]


def test_offline_session_with_the_controller_in_its_own_process():
    """The OCPP keys reach a controller the rig starts as a process (overrides on its command line)."""
    from tests.rig.netns import private_netns

    with private_netns() as netns:
        command = [*netns, sys.executable, "-m", "hil", "run", "--separate-process", "--can",
                   "udp_multicast:239.74.163.2", "--scenario", "offline-session", "--quiet", "--report"]
        with tempfile.TemporaryDirectory() as folder:
            report_path = Path(folder) / "report.json"
            done = subprocess.run([*command, str(report_path)], capture_output=True, text=True, cwd=ROOT,
                                  timeout=150)
            assert done.returncode == 0, done.stdout + done.stderr
            report = json.loads(report_path.read_text())
    assert report["controller"] == "process" and report["ocpp"]["violations"] == []
    assert any(e["offline"] for e in report["ocpp"]["transaction_events"])


def test_csms_restart_mid_session_every_event_arrives_once_in_order():
    report = _run("csms-restart")
    ocpp = report["ocpp"]
    assert ocpp["outage"] is not None and ocpp["violations"] == [] and "restarted" in ocpp["notes"][0]
    ledger = ocpp["ledger"]
    assert ledger["retries"] >= 1  # the one the dead process never answered was sent again
    assert ledger["duplicates"] == [] and ledger["missing"] == [] and ledger["out_of_order"] == []
    events = ocpp["transaction_events"]
    assert [e["seq"] for e in events] == list(range(len(events))) and events[-1]["type"] == "Ended"
    assert report["connectors"][0]["car"]["reason"] == "target_soc"
