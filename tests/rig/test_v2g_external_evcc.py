"""charger-hil run --external-evcc without Josev: bad input, and the verdict from the controller and the store
(not the outside program's exit status). The Josev tier (tests/interop) runs real sessions through it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hil.link.netns import why_unavailable

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.rig, pytest.mark.timeout(90)]


def charger_hil(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hil", "run", "--setup", "desk", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=80)


def needs_veth():
    reason = why_unavailable()
    if reason:
        pytest.skip(f"the external EVCC runs on the veth link: {reason}")


def test_a_command_without_the_interface_is_refused_in_one_line():
    done = charger_hil("--external-evcc", "josev-evcc")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "charger-hil: --external-evcc: the command must name the car's interface as {iface}"]


@pytest.mark.parametrize("option", [["--separate-process"], ["--protocol", "iso2"], ["--link", "veth"]])
def test_options_of_the_rigs_own_car_are_refused_in_one_line(option):
    done = charger_hil("--external-evcc", "josev {iface}", *option)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert f"{option[0]} does not apply" in done.stderr


def test_a_program_that_exits_at_once_with_status_0_is_no_charged_session(tmp_path):
    needs_veth()
    report_path = tmp_path / "report.json"
    done = charger_hil("--external-evcc", "true {iface}", "--report", str(report_path))
    report = json.loads(report_path.read_text())
    assert done.returncode == 1 and report["program_exit_code"] == 0
    assert report["slac"]["matched"] and any("never charged" in p for p in report["problems"])
    assert not report["final"]["contactors_closed"] and not report["final"]["modules_on"]


def test_a_silent_car_is_restarted_20_s_after_plug_in_and_the_program_is_stopped(tmp_path):
    needs_veth()
    report_path = tmp_path / "report.json"
    done = charger_hil("--external-evcc", "exec sleep 300 # {iface}", "--expect", "refused",
                       "--report", str(report_path))
    report = json.loads(report_path.read_text())
    assert done.returncode == 0, report["problems"]
    plugged = next(e["t"] for e in report["events"] if e["kind"] == "phase" and e["state"] == "plugged")
    restart = next(e for e in report["events"] if e["kind"] == "communication_restart")
    assert 19.0 <= restart["t"] - plugged <= 22.0 and "SessionSetupReq" in restart["reason"]
    assert report["program_exit_code"] == -15  # SIGTERM from the rig, not its own end
