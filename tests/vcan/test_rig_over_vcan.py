"""Firmware in the loop over real SocketCAN: charger-controller and the rig as separate processes on vcan0.

One guest runs them all. In `make test` (and CI) a slice that covers the wire: a full session, an
emergency stop and a module loss, sized for an emulated CPU (qemu-tcg). `make test-vcan` sets
VCAN_SCENARIOS=all: every scenario a separate controller supports (user-stop needs the service console as
its control channel, so it runs in-process in tests/rig only). VCAN_SCENARIOS may also name scenarios,
comma-separated.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time

import pytest

from hil.scenarios import SCENARIOS

SEPARATE = [name for name, s in SCENARIOS.items() if not s.needs_inprocess]
WIRE_SLICE = ["dc-session", "estop", "module-lost"]
# Under emulation on a busy 2-core machine: boot and warm-up imports about 1 min, a scenario 45 to 85 s.
BOOT_AND_WARM_UP_S = 180.0
PER_SCENARIO_S = 240.0
pytestmark = [pytest.mark.vcan, pytest.mark.timeout(BOOT_AND_WARM_UP_S + PER_SCENARIO_S * len(SEPARATE) + 120)]


def chosen_scenarios() -> list[str]:
    wanted = os.environ.get("VCAN_SCENARIOS", "").strip()
    if not wanted:
        return WIRE_SLICE
    if wanted == "all":
        return SEPARATE
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    unknown = [name for name in names if name not in SEPARATE]
    if unknown:
        raise pytest.UsageError(f"VCAN_SCENARIOS: {', '.join(unknown)} cannot run over vcan "
                                f"(known: all, {', '.join(SEPARATE)})")
    return names


def test_wire_slice_runs_separate_processes():
    assert set(WIRE_SLICE) <= set(SEPARATE)


def test_scenarios_over_socketcan_vcan0(run_in_vcan, vcan_bus_log, vcan_tier_line, tmp_path):
    scenarios = chosen_scenarios()
    started = time.monotonic()
    done = run_in_vcan([sys.executable, "-m", "tests.vcan.rig_tier", str(tmp_path), "socketcan:vcan0",
                        *scenarios], timeout=BOOT_AND_WARM_UP_S + PER_SCENARIO_S * len(scenarios),
                       bus_logs={"vcan0": vcan_bus_log()})
    elapsed = time.monotonic() - started
    for line in done.stdout.splitlines():
        if re.match(r"[a-z-]+: exit \d+ in [\d.]+ s$|warm-up imports", line):
            vcan_tier_line(f"vcan tier over socketcan:vcan0: {line}")
    vcan_tier_line(f"vcan tier: {len(scenarios)} scenarios in one guest, {elapsed:.0f} s in all")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    for name in scenarios:
        report = json.loads((tmp_path / f"{name}.json").read_text())
        scenario = SCENARIOS[name]
        assert report["result"] == scenario.expect_result, (name, report)
        assert report["problems"] == [], (name, report["problems"])
        codes = {f["code"] for f in report["faults"]}
        assert set(scenario.expect_faults) <= codes, (name, codes)
        for conn in report["connectors"]:
            assert not conn["final"]["contactors_closed"] and not conn["final"]["modules_on"], (name, conn)
            assert conn["final"]["output_current_a"] < 1.0
