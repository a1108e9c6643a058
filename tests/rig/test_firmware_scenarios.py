"""Signed firmware updates through the whole rig (hil/csms/role_firmware.py): a car over DIN 70121, the
controller, the rig's CSMS with its firmware server on loopback and the stand-in installer."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hil.csms.rig_role import judge_ocpp
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]
INSTALLED = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed"]


def _run(name: str) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup("desk"), protocol="din"))
    assert not problems, (problems, report)
    assert report["ocpp"]["violations"] == []  # every station frame valid against the 2.0.1 schemas
    assert report["connectors"][0]["car"]["reason"] == "target_soc"
    return report


def test_a_signed_firmware_is_installed_and_confirmed_after_the_restart():
    firmware = _run("firmware-update")["ocpp"]["firmware"]
    assert firmware["answers"] == ["Accepted"] and firmware["statuses"] == INSTALLED
    assert "BootNotification FirmwareUpdate, version 2.0.0, then Installed" in firmware["notes"]
    [installed] = firmware["installer_calls"]
    assert installed["bundle"].endswith(".bundle") and installed["argv"][-1] == installed["bundle"]


def test_a_bad_signature_never_reaches_the_installer():
    report = _run("firmware-bad-signature")
    firmware = report["ocpp"]["firmware"]
    assert firmware["statuses"] == ["Downloading", "Downloaded", "InvalidSignature"]
    assert firmware["installer_calls"] == []
    events = [json.loads(e["frame"])[3]["type"] for e in report["ocpp"]["traffic"]
              if e["dir"] == "in" and '"SecurityEventNotification"' in e["frame"]]
    assert "InvalidFirmwareSignature" in events


def test_a_download_that_fails_twice_resumes_and_installs():
    firmware = _run("firmware-download-retry")["ocpp"]["firmware"]
    downloads = firmware["downloads"]
    assert [d["status"] for d in downloads] == [503, 200, 206]
    assert downloads[2]["range"] == f"bytes={downloads[1]['sent']}-"  # resumed where the cut left off
    assert firmware["statuses"] == INSTALLED and len(firmware["installer_calls"]) == 1


def test_an_update_during_a_transaction_installs_only_after_it_ended():
    report = _run("firmware-during-transaction")
    firmware = report["ocpp"]["firmware"]
    assert firmware["statuses"] == INSTALLED[:3] + ["InstallScheduled"] + INSTALLED[3:]
    assert firmware["installer_calls"][0]["t"] > max(
        e["t"] for e in report["ocpp"]["traffic"] if e["dir"] == "in" and '"Ended"' in e["frame"])


def test_the_firmware_role_s_problems_fail_the_verdict():
    report = {"violations": [], "notes": [], "transaction_events": [
        {"tx": "t", "seq": 0, "type": "Started", "offline": False}, {"tx": "t", "seq": 1, "type": "Ended", "offline": False}],
        "firmware": {"problems": ["a bundle with a bad signature reached the installer"]}}
    assert judge_ocpp(report, expect_offline=False) == ["a bundle with a bad signature reached the installer"]


def test_firmware_update_with_the_controller_in_its_own_process_exits_and_is_started_again(tmp_path):
    """The installer's restart is the process's exit with its restart status; the rig's handle starts it again."""
    from tests.rig.netns import private_netns

    root = Path(__file__).resolve().parents[2]
    with private_netns() as netns:
        command = [*netns, sys.executable, "-m", "hil", "run", "--separate-process", "--can",
                   "udp_multicast:239.74.163.5", "--scenario", "firmware-update", "--quiet", "--report",
                   str(tmp_path / "report.json")]
        done = subprocess.run(command, capture_output=True, text=True, cwd=root, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["controller"] == "process" and report["ocpp"]["firmware"]["statuses"] == INSTALLED
    assert all(f["code"] == "IO_WATCHDOG_TRIPPED" for f in report["faults"])
