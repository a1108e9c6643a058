"""The shipped systemd unit: Type=notify with a watchdog, restarts, journald, the documented layout."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from controller.formats.exit_status import RESTART_REQUESTED

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tools/systemd/charger-controller.service"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_the_unit_runs_the_controller_as_a_notify_service_with_a_watchdog():
    service = _service()
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["WatchdogSec"] == "10s" and service["Restart"] == "always"
    assert service["RestartPreventExitStatus"] == "2"  # a config to fix: no restart loop
    assert service["RestartForceExitStatus"] == str(RESTART_REQUESTED)  # an OCPP Reset: exit to be started again
    assert service["ExecStart"].split()[:3] == [
        "/opt/charger/venv/bin/charger-controller", "--config", "/etc/charger/cabinet.toml"]
    assert service["StateDirectory"] == "charger" and service["ConfigurationDirectory"] == "charger"
    assert service["StandardError"] == "journal" and service["KillSignal"] == "SIGTERM"


def test_the_options_in_execstart_are_accepted_by_the_controller(tmp_path):
    options = _service()["ExecStart"].split()[1:]
    options[options.index("--config") + 1] = str(tmp_path / "missing.toml")
    done = subprocess.run([sys.executable, "-m", "controller", *options], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    # gets as far as reading the config file: every option in the unit parsed
    assert done.returncode == 2 and "cannot read" in done.stderr and "usage:" not in done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    installed = Path(sys.executable).with_name("charger-controller")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/charger/venv/bin/charger-controller", str(installed)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=30,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
