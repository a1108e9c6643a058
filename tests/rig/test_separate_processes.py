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
EV_LINK_PORT = 47100


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_controller_and_rig_processes_charge_a_car(tmp_path):
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text((ROOT / "hil/setups/desk/cabinet.toml").read_text()
                       + f"\n[ev_link]\nbase_port = {EV_LINK_PORT}\n")
    report_path = tmp_path / "report.json"
    with private_netns() as netns:
        controller = subprocess.Popen(
            [*netns, sys.executable, "-m", "controller", "--config", str(cabinet), "--can", CAN, "--events-json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            rig = subprocess.run(
                [*netns, sys.executable, "-m", "hil", "rig", "--setup", "desk", "--can", CAN,
                 "--ev-link", f"127.0.0.1:{EV_LINK_PORT}", "--modbus-base-port", "1502",
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


def test_separate_controller_v2g_needs_the_veth_link():
    run = subprocess.run([sys.executable, "-m", "hil", "run", "--separate-process", "--protocol", "din",
                          "--quiet"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 2 and "needs --link veth" in run.stderr
