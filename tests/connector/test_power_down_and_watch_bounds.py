"""The power-down's landing waits at LANDING_WAIT_S exactly (from a clock at 0, so the difference is exact) and
what its weld fault says; the energized watch: which cable-check steps count as energized and which states count
an invalid IMD, its bound exactly, and its words (issue 19's surviving mutants of power_down.py and
energized_watch.py)."""
from __future__ import annotations

import pytest

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.energized_watch import EnergizedWatch
from controller.connector.power_down import LANDING_WAIT_S
from tests.connector.test_mutation_kills import Sequence
from tests.connector.test_mutation_kills_faults import Recorded

pytestmark = pytest.mark.timeout(10)


def from_zero(seq: Sequence) -> Sequence:
    seq.clock.now = 0.0
    seq.group.contact_closing = True  # a matrix contact closing onto this output, never reported landed
    return seq


def test_a_stop_waits_for_a_landing_up_to_landing_wait_s_exactly():
    seq = from_zero(Sequence())
    seq.begin("stop")
    seq.at(LANDING_WAIT_S / 2)
    assert ("group", "set", 400.0, 0.0) not in seq.wire
    seq.at(LANDING_WAIT_S)
    assert ("group", "set", 400.0, 0.0) in seq.wire


def test_modules_left_on_for_a_landing_go_off_at_landing_wait_s_exactly():
    seq = from_zero(Sequence())
    seq.begin("cp_b")  # never waits: current down now, contactors open at the first low reading
    seq.amps = 0.0
    seq.at(0.0)
    assert seq.opened and ("group", "off") not in seq.wire  # the modules hold the bus for the landing
    seq.at(LANDING_WAIT_S / 2)
    assert ("group", "off") not in seq.wire
    seq.at(LANDING_WAIT_S)
    assert seq.wire[-1] == ("group", "off")


def test_a_weld_says_the_feedback_stayed_closed():
    seq = Recorded(contactor_feedback_timeout_s=0.25)
    seq.pd.begin("cp_b", 400.0)
    seq.amps = 0.0
    seq.run_for(0.5)
    assert set(seq.faults) == {("CONTACTOR_WELDED", "contactor feedback still closed after open command")}


class _Reading:
    resistance_valid, device_error = False, False


class _Imd:
    latest, fresh = _Reading(), True


class Watched:
    """What the watch reads: the connector's state and cable-check step, its lock, an IMD reading invalid."""

    def __init__(self, state: str, step: str = "", lock: str = "LOCKED", imd_invalid_after_s: float = 0.5):
        self.charging = ChargingConfig(imd_invalid_after_s=imd_invalid_after_s)
        self.state, self.step, self.lock = state, step, lock
        self.imd = _Imd()
        self.faults: list[tuple[str, str]] = []
        self.watch = EnergizedWatch(self)

    def cable_check_step(self) -> str:
        return self.step

    def lock_state(self) -> str:
        return self.lock

    def fault_active(self, code: str) -> bool:
        return any(c == code for c, _ in self.faults)

    def raise_fault(self, code: str, detail: str = "") -> None:
        self.faults.append((code, detail))

    def clear_fault(self, code: str) -> None:
        self.faults = [(c, d) for c, d in self.faults if c != code]

    def run(self, seconds: float, step_s: float = 0.125) -> None:
        t = 0.0
        while t <= seconds:
            self.watch.tick(t)
            t += step_s


@pytest.mark.parametrize("step", ["close_contactors", "raise_voltage", "hold", "discharge"])
def test_a_lock_that_is_not_locked_in_an_energized_cable_check_step_is_a_fault(step):
    host = Watched("cable_check", step, lock="UNLOCKED")
    host.watch.tick(0.0)
    assert ("CONNECTOR_LOCK_FAILURE", "lock reports UNLOCKED while energized") in host.faults


@pytest.mark.parametrize("state, step", [("plugged", ""), ("stopping", ""), ("cable_check", "done")])
def test_an_invalid_imd_counts_only_while_energized_or_checking(state, step):
    host = Watched(state, step)
    host.run(2.0)
    assert host.faults == []


def test_an_invalid_imd_reading_is_a_fault_at_its_bound_exactly_and_says_for_how_long():
    host = Watched("charging", imd_invalid_after_s=0.5)
    host.run(0.375)
    assert host.faults == []
    host.watch.tick(0.5)
    assert host.faults == [("IMD_INVALID", "no valid insulation reading for 0.5 s")]
