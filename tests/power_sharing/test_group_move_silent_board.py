"""A group move whose matrix board falls silent (issue #18): a move in CLOSE or ABANDON waited for ever for the
contact's feedback. With a fake plant and fake contacts, the test decides what the board says and when."""
from __future__ import annotations

import math

import pytest

from controller.power_sharing.group_move import STEADY_SAMPLES, GroupMove, MoveTiming, Step
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(10)

RECEIVER_V = 650.0
PERIOD_S = 0.05  # the coordinator's tick


class FakePlant:
    """A receiver at a steady voltage; the group reads what it was last set to (fresh, matched)."""

    def __init__(self) -> None:
        self.group_v = 0.0
        self.sag_v = 0.0  # the group's reading this far below its setpoint (its modules stopped holding)
        self.group_a = 0.0
        self.setpoints: list[tuple[float, float]] = []
        self.limits: list[tuple[int, float]] = []
        self.handed: list[tuple[str, int | None]] = []
        self.closing: int | None = None
        self.stops: list = []

    def port_current_a(self, output: int) -> float:
        return 0.0

    def port_voltage_v(self, output: int) -> float:
        return RECEIVER_V

    def set_port_limit_a(self, output: int, amps: float) -> None:
        self.limits.append((output, amps))

    def group_current_a(self, group: str) -> float:
        return self.group_a

    def group_voltage_v(self, group: str) -> float:
        return self.group_v - self.sag_v

    def set_group(self, group: str, voltage_v: float, current_a: float) -> None:
        self.setpoints.append((voltage_v, current_a))
        self.group_v = voltage_v

    def hand_over(self, group: str, output: int | None) -> None:
        self.handed.append((group, output))

    def stop_port(self, output: int, code: str, detail: str) -> None:
        self.stops.append((output, code))

    def closing_onto(self, group: str, output: int | None) -> None:
        self.closing = output

    def may_receive(self, output: int) -> bool:
        return True


class FakeContacts:
    """The board as the move sees it: `closed` is the feedback, `as_of` how new it is (the echoed send time)."""

    def __init__(self, closed: int | None = None) -> None:
        self.commanded: int | None = closed
        self.closed = closed
        self.as_of = -math.inf
        self.commands: list[int | None] = []

    def connect(self, group: str, output: int) -> None:
        self.commanded = output
        self.commands.append(output)

    def open(self, group: str) -> None:
        self.commanded = None
        self.commands.append(None)

    def closed_output(self, group: str) -> int | None:
        return self.closed

    def reported_since(self, t: float) -> bool:
        return self.as_of >= t


class Bench:
    def __init__(self, donor: int | None = None, closed: int | None = None) -> None:
        self.clock = FakeClock()
        self.plant, self.contacts = FakePlant(), FakeContacts(closed)
        self.move = GroupMove("G2", donor, 1, self.plant, self.contacts, receiver_limit_a=276.0, clock=self.clock)

    def step(self, seconds: float = PERIOD_S, heard: bool = True) -> Step:
        """The coordinator's tick; `heard`: the board echoes our commands (its feedback as new as now)."""
        self.clock.advance(seconds)
        if heard:
            self.contacts.as_of = self.clock()
        return self.move.step()

    def until_close(self) -> None:
        for _ in range(STEADY_SAMPLES + 5):
            if self.step() is Step.CLOSE:
                return
        raise AssertionError(f"no close decided: {self.move.step_now}")

    def run_silent(self, bound_s: float = 5.0) -> list[Step]:
        steps = []
        for _ in range(round(bound_s / PERIOD_S)):
            steps.append(self.step(heard=False))
            if self.move.finished:
                return steps
        raise AssertionError(f"the move still waits after {bound_s} s with the board silent: {self.move.step_now}")


def _ended_safely(bench: Bench) -> None:
    move, plant = bench.move, bench.plant
    assert move.step_now is Step.FAILED
    assert bench.contacts.commanded is None  # contact commanded open
    assert plant.handed == [("G2", None)]  # the group switched off: no current, on the bus or not
    assert all(amps == 0.0 for _, amps in plant.setpoints)  # never any current while it was driven
    assert (1, 276.0) not in plant.limits  # the receiver was never raised
    assert plant.closing is None  # the receiver's bus hold ends with the move


def test_a_board_lost_while_the_contact_travels_ends_the_move_safely_after_the_contacts_travel():
    bench = Bench()
    bench.until_close()
    matched = bench.plant.setpoints[-1]
    assert bench.contacts.commanded == 1 and bench.plant.closing == 1
    bench.move.board_lost()  # MATRIX_BOARD_LOST: the coordinator tells the move, then steps it
    steps = bench.run_silent()
    assert steps[0] is Step.BOARD_SILENT and bench.contacts.commands[-1] is None
    held = [s for s in steps if s is Step.BOARD_SILENT]
    assert held and len(held) * PERIOD_S >= MoveTiming().contact_s  # held while an open contact may still land
    assert bench.plant.setpoints[-1] == matched  # held at the matched voltage, at no current, until then
    _ended_safely(bench)
    assert "board was lost" in bench.move.reason


def test_a_board_that_stops_answering_during_a_close_ends_the_move_by_the_moves_own_bound():
    bench = Bench()
    bench.until_close()
    closed_t = bench.clock()
    steps = bench.run_silent()  # no MATRIX_BOARD_LOST: e.g. its statuses no longer echo our commands
    timing = MoveTiming()
    assert Step.BOARD_SILENT in steps  # first abandoned (the contact commanded open), then ended
    assert bench.clock() - closed_t <= 2 * (timing.contact_s + timing.silent_s) + 3 * PERIOD_S
    _ended_safely(bench)
    assert "no matrix status after the contact's bound" in bench.move.reason


def test_a_board_silent_during_an_abandoned_close_ends_the_move_safely():
    bench = Bench()
    bench.until_close()
    bench.plant.sag_v = 40.0  # the group sagged under the travelling contact: abandoned
    assert bench.step(heard=False) is Step.ABANDON and bench.contacts.commanded is None
    bench.plant.sag_v = 0.0
    matched = bench.plant.setpoints[-1]
    steps = bench.run_silent()
    assert set(steps) == {Step.ABANDON, Step.FAILED}
    assert matched[1] == 0.0
    _ended_safely(bench)


def test_a_board_silent_while_the_contact_opens_from_the_donor_fails_the_move_without_switching_the_group():
    bench = Bench(donor=2, closed=2)
    for _ in range(10):
        if bench.step() is Step.OPEN:
            break
    assert bench.move.step_now is Step.OPEN and bench.contacts.commanded is None
    bench.move.board_lost()  # nothing travels towards a receiver: it waits within its bound on silence
    assert bench.move.step_now is Step.OPEN
    assert set(bench.run_silent()) == {Step.OPEN, Step.FAILED} and "board silent" in bench.move.reason
    assert bench.plant.handed == [] and bench.plant.setpoints[-1][1] == 0.0  # at no current, as RAMP_DOWN left it


def test_a_board_lost_for_a_moment_during_a_close_shows_the_contact_open_and_the_move_goes_on():
    bench = Bench()
    bench.until_close()
    bench.move.board_lost()
    assert bench.step(heard=False) is Step.BOARD_SILENT and bench.contacts.commanded is None
    for _ in range(round(MoveTiming().contact_s / PERIOD_S)):
        assert bench.step(heard=False) is Step.BOARD_SILENT  # held through the contact's travel
    assert bench.step() is Step.MATCH  # back, its feedback dated after the bound: open; matched again
    assert bench.plant.closing is None and bench.move.abandons == 1
    for _ in range(20):
        if bench.step() is Step.CLOSE:
            break
    bench.contacts.closed = 1
    assert bench.step() is Step.DONE and (1, 276.0) in bench.plant.limits


def test_a_stall_of_the_controller_is_no_silence_of_the_board():
    """Silence counts only time the move was stepped: after a stall the board's echo comes within a period."""
    bench = Bench()
    bench.until_close()
    assert bench.step(seconds=1.0, heard=False) is Step.CLOSE  # a 1 s stall: nothing read yet
    assert bench.step(heard=False) is Step.CLOSE
    bench.contacts.closed = 1  # the next status, echoing a command sent after the stall: landed
    assert bench.step() is Step.DONE and (1, 276.0) in bench.plant.limits


def test_a_board_that_answers_late_but_within_the_silence_bound_lets_the_close_go_on():
    bench = Bench()
    bench.until_close()
    for _ in range(round((MoveTiming().contact_s + MoveTiming().silent_s) / PERIOD_S) - 1):
        assert bench.step(heard=False) is Step.CLOSE
    bench.contacts.closed = 1
    assert bench.step() is Step.DONE


# ---- on the rig's matrix board simulator and model of groups and cars (tests/power_sharing/move_rig.py) --------

def _rig_until_close():
    from hil.sim.shared_outputs import SimCar
    from tests.power_sharing.move_rig import MoveRig
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    for _ in range(500):
        rig.run(0.01)
        if move.step_now is Step.CLOSE:
            return rig, move
    raise AssertionError(f"no close decided: {move.step_now}")


def test_on_the_rig_a_board_that_falls_mute_during_a_close_ends_the_move_and_opens_the_contact_at_no_current():
    rig, move = _rig_until_close()
    rig.board.port.muted = True  # its statuses stop; it still hears our commands
    rig.run_until_finished(bound_s=2.0)
    assert move.step_now is Step.FAILED and Step.BOARD_SILENT in [s for _, s in move.history]
    group = rig.plant.groups[1]
    assert group.set_current_a == 0.0 and group.set_voltage_v == 0.0 and not group.driven_by_move
    assert rig.board.connected_output(1) == 0  # it landed, then opened on our command: at no current
    assert rig.board.under_load_count == 0 and group.closing_onto is None


def test_on_the_rig_a_deaf_and_mute_board_that_comes_back_opens_the_landed_contact_at_no_current_without_a_mismatch():
    rig, move = _rig_until_close()
    rig.run(0.01)  # the board took the close command
    rig.board.port.muted = True  # then hears and says nothing (a CAN wire off)
    rig.matrix.port.muted = True
    rig.run_until_finished(bound_s=2.0)
    assert move.step_now is Step.FAILED and rig.board.connected_output(1) == 1  # landed, and stays so
    assert rig.faults == [("MATRIX_BOARD_LOST", True)]
    rig.run(0.5)  # the group off on the receiver's bus: it carries nothing
    assert abs(rig.plant.groups[1].current_a) < 1.0
    rig.board.port.muted = rig.matrix.port.muted = False  # back: our open command is applied at no current
    rig.run(0.5)
    assert rig.board.connected_output(1) == 0 and rig.board.under_load_count == 0
    assert rig.faults == [("MATRIX_BOARD_LOST", True), ("MATRIX_BOARD_LOST", False)]  # no contact mismatch
