"""Controller and rig as separate processes on one CAN channel (udp_multicast in a private namespace)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig.netns import private_netns

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]
CAN = "udp_multicast:239.74.163.2"
SDP_PORT = 47100  # the controller's [v2g] test door: connector 1 answers SDP here on ::1
TEST_DOOR = f"\n[v2g]\nenabled = true\ntest_door_direct_tcp = true\nsdp_port = {SDP_PORT}\n"


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_controller_and_rig_processes_charge_a_car(tmp_path):
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text((ROOT / "hil/setups/desk/cabinet.toml").read_text() + TEST_DOOR)
    report_path = tmp_path / "report.json"
    with private_netns() as netns:
        controller = subprocess.Popen(
            [*netns, sys.executable, "-m", "controller", "--config", str(cabinet), "--can", CAN, "--events-json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            rig = subprocess.run(
                [*netns, sys.executable, "-m", "hil", "rig", "--setup", "desk", "--can", CAN,
                 "--secc", f"[::1]:{SDP_PORT}", "--modbus-base-port", "1502",
                 "--scenario", "dc-session", "--quiet",
                 "--report", str(report_path)],
                capture_output=True, text=True, cwd=ROOT, timeout=150)
        finally:
            controller.terminate()
            out, err = controller.communicate(timeout=20)
    assert rig.returncode == 0, rig.stdout + rig.stderr
    report = json.loads(report_path.read_text())
    assert report["result"] == "ok" and report["controller_events"] is False
    assert report["connectors"][0]["car"]["reason"] == "target_soc"
    assert report["final"]["contactors_closed"] is False and report["final"]["modules_on"] is False
    events = _events(out)
    states = [e["state"] for e in events if e["event"] == "phase"]
    assert "charging" in states and "welding_detection" in states, err
    ended = [e for e in events if e["event"] == "session_ended"]
    assert ended and ended[0]["energy_kwh"] > 0.05
    assert report["protocol"] == "din" and report["v2g"]["link"] == "direct"  # V2G to the external controller
    assert [e["event"] for e in events if e["event"] in ("secc", "v2g_closed")] == ["secc", "v2g_closed"]


def test_heartbeat_lost_when_the_controller_process_is_killed():
    with private_netns() as netns:
        run = subprocess.run(
            [*netns, sys.executable, "-m", "hil", "run", "--separate-process", "--setup", "desk", "--can", CAN,
             "--scenario", "heartbeat-lost", "--quiet"],
            capture_output=True, text=True, cwd=ROOT, timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "IO_WATCHDOG_TRIPPED" in run.stdout
    assert "contactors open, modules off, 0.0 A" in run.stdout


def test_separate_controller_serves_v2g_on_every_connector_over_veth(tmp_path):
    """The controller process opens its own SECC sockets ([v2g] from the config) on the veth ends the rig made
    in the shared namespace; four cars do SLAC, SDP and DIN over them while the CAN goes over udp_multicast."""
    report_path = tmp_path / "report.json"
    with private_netns() as netns:
        run = subprocess.run(
            [*netns, sys.executable, "-m", "hil", "run", "--separate-process", "--setup", "nevi", "--can", CAN,
             "--link", "veth", "--scenario", "dc-session", "--quiet", "--report", str(report_path)],
            capture_output=True, text=True, cwd=ROOT, timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(report_path.read_text())
    assert report["result"] == "ok" and report["controller_events"] is True
    assert report["v2g"]["protocol"] == "din" and report["v2g"]["link"] == "veth"
    assert [c["car"]["reason"] for c in report["connectors"]] == ["target_soc"] * 4
    # the controller's own account of every CurrentDemand the cars sent (its v2g_closed events)
    assert (report["v2g"]["answer_times"]["CurrentDemandReq"]["count"]
            == report["v2g"]["car_round_trips"]["CurrentDemandReq"]["count"] > 0)


def test_separate_controller_over_loopback_speaks_v2g_through_its_test_door(tmp_path):
    """No powerline can reach a child process over loopback: the controller opens its test door (SDP and V2GTP
    on ::1, no SLAC) and announces it; the car does SDP there and a DIN session, as on every other mode."""
    report_path = tmp_path / "report.json"
    with private_netns() as netns:
        run = subprocess.run(
            [*netns, sys.executable, "-m", "hil", "run", "--separate-process", "--setup", "desk", "--can", CAN,
             "--scenario", "dc-session", "--quiet", "--report", str(report_path)],
            capture_output=True, text=True, cwd=ROOT, timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(report_path.read_text())
    assert report["result"] == "ok" and report["controller"] == "process" and report["controller_events"] is True
    assert report["protocol"] == "din" and report["v2g"]["link"] == "direct"
    assert report["connectors"][0]["car"]["reason"] == "target_soc"
    assert (report["v2g"]["answer_times"]["CurrentDemandReq"]["count"]
            == report["v2g"]["car_round_trips"]["CurrentDemandReq"]["count"] > 0)
