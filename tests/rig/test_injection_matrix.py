"""The fault-injection matrix as rig tests: every kind x every phase where it applies (hil/injection/kinds.py)
ends safe, with the right fault code, within the bound of its reaction, and a new session is refused while a
blocking fault of it stays active (a warning leaves the port in service).

The faults are made at the wires (plant, simulators, car) on the desk setup, V2G DIN, controller in the rig's
process. `make test` runs one case per kind (SLICE); `make test-injection` (INJECTION_MATRIX=full) runs the
whole matrix. Bounds are generous on purpose (a noisy 2-core machine): emergency 1 s, error 3 s, a stop 1 s,
precharge faults found by the DIN 7 s precharge timer 8 s.
"""
from __future__ import annotations

import asyncio
import os

import pytest

from hil.injection.kinds import KINDS, PHASE_STATES
from hil.injection.spec import parse_injection
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.injection, pytest.mark.timeout(90)]

# one per kind, the phases spread so that each phase is met in `make test` too
SLICE = (
    "output-overvoltage@charging", "output-overvoltage:150@precharge", "output-overcurrent@charging",
    "voltage-sensor-stuck@charging", "voltage-sensor-silent@precharge", "temp-sensor-open@cable-check",
    "temp-rising@charging", "module-short@charging", "module-lost@charging", "io-board-lost@charging",
    "cp-b@charging", "cp-e@precharge", "cp-f@stopping", "estop@cable-check", "imd-alarm@charging",
    "imd-invalid@charging", "imd-lost@charging", "meter-lost@charging", "lock-fail@cable-check",
    "contactor-weld@stopping", "ev-negative-target@charging", "ev-silent@charging", "imd-alarm@cable-check+0.5",
)
# a regulation fault far enough above the precharge target to pass the car's maximum: over-voltage, not the
# precharge timer; and faults that arrive while the cable check's test voltage is live (about 0.3 to 1 s
# into the cable check on the desk setup), not before it
EXTRA = ("output-overvoltage:150@precharge", "imd-alarm@cable-check+0.5", "estop@cable-check+0.5",
         "output-overvoltage@cable-check+0.5", "cp-e@cable-check+0.5", "io-board-lost@cable-check+0.5")
FULL = tuple(f"{kind.name}@{phase}" for kind in KINDS.values() for phase in kind.phases) + EXTRA
CASES = FULL if os.environ.get("INJECTION_MATRIX") == "full" else SLICE


def test_slice_has_every_kind():
    assert {parse_injection(s).kind.name for s in SLICE} == set(KINDS)


@pytest.mark.parametrize("text", CASES)
def test_injection_ends_safe_with_the_right_code(text):
    spec = parse_injection(text)
    report, problems = asyncio.run(run_scenario("dc-session", load_setup("desk"), injections=(spec,), protocol="din"))
    record = report["injections"][0]
    why = (problems, {k: record[k] for k in ("codes", "time_to_safe_ms", "peak_voltage_v", "state_at_injection")},
           report["new_session"])
    assert record["done"], why
    assert record["state_at_injection"] == PHASE_STATES[spec.phase], why  # made in the phase asked for
    expected = spec.kind.expected_codes(spec.phase)
    if expected:
        assert record["fault_code"] in expected, why
    bound_s = spec.kind.bound_s(spec.phase)
    if bound_s is not None:
        assert record["time_to_safe_ms"] is not None and record["time_to_safe_ms"] <= bound_s * 1000.0, why
    final = report["connectors"][0]["final"]
    assert not final["modules_on"] and final["output_current_a"] < 1.0, final
    if spec.kind.name != "contactor-weld":
        assert not final["contactors_closed"], final
    if record["fault_active_at_new_session"]:
        assert record["new_session_refused"], why
    if spec.kind.in_service and not report["new_session"]["blocking_faults_active"]:
        assert not record["new_session_refused"], why
    assert problems == [], why


def test_cli_run_with_two_injections_writes_them_in_the_report(tmp_path, capsys):
    import json

    from hil.__main__ import main
    path = tmp_path / "r.json"
    assert main(["run", "--quiet", "--inject", "estop@charging", "--inject", "meter-lost@precharge",
                 "--report", str(path)]) == 0
    report = json.loads(path.read_text())
    assert [r["inject"] for r in report["injections"]] == ["estop@charging", "meter-lost@precharge"]
    by_kind = {r["kind"]: r for r in report["injections"]}
    assert by_kind["estop"]["fault_code"] == "ESTOP_PRESSED" and by_kind["meter-lost"]["fault_code"] == "METER_LOST"
    assert by_kind["meter-lost"]["t"] < by_kind["estop"]["t"]  # precharge comes first
    assert all(r["car_max_voltage_v"] == 420.0 and r["peak_voltage_v"] is not None for r in report["injections"])
    assert report["new_session"]["refused"] and report["problems"] == []
    assert "inject       estop@charging at t=" in capsys.readouterr().out
