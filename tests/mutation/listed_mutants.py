"""The safety-core bugs issue #19 lists (found by hand at b42cf3a), as small source patches on today's code, each
with the tests that must catch it. tests/mutation/test_listed_mutants.py applies each to a copy of the sources
and runs those tests there; `python -m tests.mutation.listed_mutants [NAME...]` does the same by hand.

Some live in module-level tables (the transition table, the request order, the fault catalogue), which mutmut
does not mutate (it mutates code inside functions only): these are covered here and nowhere else.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    name: str
    why: str      # the bug, as the issue words it
    path: str     # file under the repository root
    old: str      # exact text, found once
    new: str
    tests: tuple[str, ...]  # pytest node ids that must fail with the mutant


SC = "tests/connector/test_safety_checks.py::"

MUTANTS = (
    Mutant("emergency_contactors_before_modules",
           "the emergency power-off opens the contactors before the modules are off",
           "controller/connector/connector.py",
           "        try:\n            self.group.emergency_off()\n        finally:\n"
           "            self._contactors_commanded = False\n            self.io.open_contactors()\n",
           "        try:\n            self._contactors_commanded = False\n            self.io.open_contactors()\n"
           "        finally:\n            self.group.emergency_off()\n",
           ("tests/connector/test_safety_checks.py::test_emergency_power_off_is_modules_then_contactors_before_anything_is_recorded",)),
    Mutant("emergency_power_off_after_event",
           "an emergency's immediate power-off moved behind the fault history, log and event",
           "controller/connector/fault_reaction.py",
           "        severity = fault.severity\n        if severity == \"emergency\":\n"
           "            self.host.power_off_now()\n            self.host.set_state_f(True)\n",
           "        severity = fault.severity\n",
           ("tests/connector/test_safety_checks.py::test_emergency_power_off_is_modules_then_contactors_before_anything_is_recorded",)),
    Mutant("contactor_feedback_or",
           "one contactor dropping open under load is no longer CONTACTOR_OPENED",
           "controller/connector/control_pilot.py",
           "        closed = status.dc_plus_closed and status.dc_minus_closed\n",
           "        closed = status.dc_plus_closed or status.dc_minus_closed\n",
           ("tests/connector/test_safety_checks.py::test_one_contactor_pole_dropping_under_load_is_contactor_opened",)),
    Mutant("cable_check_discharge_600v",
           "cable-check discharge 'safe' voltage 60 V -> 600 V",
           "controller/connector/cable_check.py",
           "        elif self.step == \"discharge\":\n            if voltage < cfg.safe_voltage_v:\n",
           "        elif self.step == \"discharge\":\n            if voltage < 10 * cfg.safe_voltage_v:\n",
           ("tests/connector/test_safety_checks.py::test_cable_check_discharge_waits_for_below_60v",)),
    Mutant("cable_check_discharge_at_60v",
           "cable-check discharge: exactly 60 V counted as safe (< -> <=)",
           "controller/connector/cable_check.py",
           "        elif self.step == \"discharge\":\n            if voltage < cfg.safe_voltage_v:\n",
           "        elif self.step == \"discharge\":\n            if voltage <= cfg.safe_voltage_v:\n",
           ("tests/connector/test_safety_checks.py::test_cable_check_discharge_waits_for_below_60v",)),
    Mutant("power_down_stop_current_50a",
           "power-down stop current 5 A -> 50 A (contactors open with 50 A flowing)",
           "controller/connector/power_down.py",
           "current < cfg.stop_current_threshold_a",
           "current < 10 * cfg.stop_current_threshold_a",
           ("tests/connector/test_safety_power.py::test_stop_opens_contactors_only_below_5a_measured",)),
    Mutant("power_down_stop_current_at_5a",
           "power-down: exactly 5 A counted as low (< -> <=)",
           "controller/connector/power_down.py",
           "current < cfg.stop_current_threshold_a",
           "current <= cfg.stop_current_threshold_a",
           ("tests/connector/test_safety_power.py::test_stop_opens_contactors_only_below_5a_measured",)),
    Mutant("stale_imd_reading",
           "a stale IMD reading (taken before the test voltage) judges the insulation",
           "controller/connector/cable_check.py",
           "        if reading.t < self._test_reached_t + self.host.charging.isolation_sample_s:\n",
           "        if False:\n",
           ("tests/connector/test_safety_checks.py::test_a_stale_reading_from_before_the_test_voltage_never_judges",)),
    Mutant("isolation_threshold_inclusive",
           "100 kOhm itself counted as a fault / just above it not (boundary of the IMD threshold)",
           "controller/connector/cable_check.py",
           "        if reading.resistance_ohm < self.host.imd.cfg.fault_below_ohm:\n",
           "        if reading.resistance_ohm <= self.host.imd.cfg.fault_below_ohm + 1000:\n",
           ("tests/connector/test_mutation_kills.py::test_insulation_fault_below_100_kohm_not_at_it",)),
    Mutant("precharge_target_cable_max_only",
           "PreCharge target checked against the cable's maximum only, not the EV's",
           "controller/connector/limits.py",
           "        if ev:\n            limit = min(limit, ev.max_voltage_v)\n",
           "        if ev:\n            limit = min(limit, limit)\n",
           ("tests/connector/test_safety_checks.py::test_precharge_target_above_the_evs_maximum_is_refused",)),
    Mutant("weld_check_removed",
           "welding check removed (no CONTACTOR_WELDED when the feedback stays closed)",
           "controller/connector/output_guard.py",
           "            self.host.raise_fault(\"CONTACTOR_WELDED\", \"contactor feedback still closed after the open command\")\n",
           "            pass\n",
           ("tests/connector/test_mutation_kills.py::test_weld_seen_by_the_board_feedback_watch_alone",)),
    Mutant("power_down_weld_check_removed",
           "power-down: no CONTACTOR_WELDED when the feedback stays closed after the open command",
           "controller/connector/power_down.py",
           "                self._raise_fault(\"CONTACTOR_WELDED\", \"contactor feedback still closed after open command\")\n",
           "                pass\n",
           ("tests/connector/test_mutation_kills.py::test_power_down_reports_a_weld_when_the_feedback_stays_closed",)),
    Mutant("precharge_before_cable_check_passed",
           "PreCharge allowed before the cable check finished",
           "controller/connector/table.py",
           'conditions=["cable_check_passed", "no_blocking_faults"]',
           'conditions=["no_blocking_faults"]',
           ("tests/connector/test_safety_checks.py::test_precharge_before_the_cable_check_finished_is_a_sequence_error",)),
    Mutant("is_authorized_dropped",
           "the is_authorized guard dropped: charging without authorization",
           "controller/connector/table.py",
           'dest="parameter_discovery", conditions="is_authorized"),',
           'dest="parameter_discovery"),',
           ("tests/connector/test_safety_checks.py::test_no_charging_without_authorization",)),
    Mutant("current_demand_before_power_delivery",
           "CurrentDemand before PowerDelivery(start) answered OK instead of a sequence error",
           "controller/connector/request_order.py",
           '    "CurrentDemandReq": {"charging": SERVE, ',
           '    "CurrentDemandReq": {"charging": SERVE, "precharge": SERVE, ',
           (SC + "test_current_demand_before_power_delivery_is_a_sequence_error",)),
    Mutant("early_precharge_ok",
           "an early PreCharge answered OK instead of FAILED_SequenceError",
           "controller/connector/request_order.py",
           '    "PreChargeReq": {"cable_check": "ev_precharge", "precharge": SERVE},',
           '    "PreChargeReq": {"parameter_discovery": SERVE, "cable_check": "ev_precharge", "precharge": SERVE},',
           (SC + "test_precharge_before_the_cable_check_started_is_a_sequence_error",)),
    Mutant("isolation_fault_error",
           "ISOLATION_FAULT downgraded from emergency to error",
           "controller/faults.py",
           'FaultSpec("ISOLATION_FAULT", "emergency",',
           'FaultSpec("ISOLATION_FAULT", "error",',
           (SC + "test_catalogue_pins_severity_and_clearing",
            "tests/test_faults_catalogue.py::test_severity_and_clearing_rule")),
)


def apply(mutant: Mutant, root: Path) -> None:
    """Patch `root`'s copy of the file; the text must be there exactly once (else the list is out of date)."""
    target = root / mutant.path
    text = target.read_text()
    if text.count(mutant.old) != 1:
        raise LookupError(f"{mutant.name}: the text to mutate is in {mutant.path} {text.count(mutant.old)} times")
    target.write_text(text.replace(mutant.old, mutant.new))


def scratch_copy(into: Path) -> Path:
    """A copy of the sources and tests under `into`, with ../shared beside it as the tests expect."""
    root = into / "wt"
    ignore = shutil.ignore_patterns("__pycache__", "mutants", ".git", ".venv*", "bench", "*.egg-info")
    for part in ("controller", "tests", "hil", "tools", "dbc"):
        shutil.copytree(ROOT / part, root / part, ignore=ignore)
    for name in ("pyproject.toml",):
        shutil.copy2(ROOT / name, root / name)
    shared = ROOT.parent / "shared"
    if shared.exists():
        (into / "shared").symlink_to(shared)
    return root


def run_tests(root: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
                           "-o", "addopts=", *tests], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTANTS if not argv or m.name in argv]
    survivors = []
    with tempfile.TemporaryDirectory(prefix="listed-mutants-") as tmp:
        root = scratch_copy(Path(tmp))
        for mutant in chosen:
            original = (root / mutant.path).read_text()
            apply(mutant, root)
            try:
                done = run_tests(root, mutant.tests)
            finally:
                (root / mutant.path).write_text(original)
            verdict = "killed" if done.returncode == 1 else ("SURVIVED" if done.returncode == 0
                                                             else f"error {done.returncode}")
            print(f"{mutant.name:45} {verdict}", flush=True)
            if verdict != "killed":
                survivors.append(mutant.name)
                if done.returncode not in (0, 1):
                    print(done.stdout[-2000:], done.stderr[-2000:])
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
