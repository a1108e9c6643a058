"""Firmware in the loop over real SocketCAN: charger-controller and the rig as separate processes on vcan0.

Every scenario of the core issue that a separate controller supports (user-stop needs the service
console as its control channel, so it runs in-process in tests/rig only).
"""
from __future__ import annotations

import json
import sys

import pytest

from hil.scenarios import SCENARIOS

pytestmark = [pytest.mark.vcan, pytest.mark.timeout(1500)]
TIER = [name for name, s in SCENARIOS.items() if not s.needs_inprocess]


def test_every_scenario_over_socketcan_vcan0(run_in_vcan, vcan_bus_log, tmp_path):
    done = run_in_vcan([sys.executable, "-m", "tests.vcan.rig_tier", str(tmp_path), "socketcan:vcan0", *TIER],
                       timeout=1200, bus_logs={"vcan0": vcan_bus_log()})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    for name in TIER:
        report = json.loads((tmp_path / f"{name}.json").read_text())
        scenario = SCENARIOS[name]
        assert report["result"] == scenario.expect_result, (name, report)
        assert report["problems"] == [], (name, report["problems"])
        codes = {f["code"] for f in report["faults"]}
        assert set(scenario.expect_faults) <= codes, (name, codes)
        for conn in report["connectors"]:
            assert not conn["final"]["contactors_closed"] and not conn["final"]["modules_on"], (name, conn)
            assert conn["final"]["output_current_a"] < 1.0
