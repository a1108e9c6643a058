"""PowerMatrix driver against the rig's matrix board simulator (in-memory link, test clock)."""
from __future__ import annotations

import pytest

from controller.hw.power.matrix import PowerMatrix
from hil.sim.power_matrix import PowerMatrixSim
from tests.fakes.clock import FakeClock
from tests.power_sharing.loopback import CircuitStub, loopback_pair

pytestmark = pytest.mark.timeout(10)

GROUPS = ("G1", "G2", "G3")
PERMITTED = {"G1": (1, 2), "G2": (1, 2), "G3": (2,)}


class Bench:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.faults: list[tuple[str, bool]] = []
        controller_end, board_end = loopback_pair()
        self.sim = PowerMatrixSim(board_end, CircuitStub(), len(GROUPS), contact_delay_s=0.03, clock=self.clock)
        self.sim.attach()
        self.matrix = PowerMatrix(controller_end, GROUPS, PERMITTED, contact_timeout_s=0.2, lost_after_s=0.3,
                                  on_fault=lambda code, detail, active: self.faults.append((code, active)),
                                  clock=self.clock)
        self.matrix.attach()
        self.board_end = board_end

    def run(self, seconds: float, step: float = 0.02) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.sim.tick()
            self.matrix.check()


def test_a_connected_group_reports_its_output_once_the_contact_closed():
    bench = Bench()
    bench.matrix.connect("G2", 1)
    assert bench.matrix.commanded("G2") == 1 and not bench.matrix.settled("G2")
    bench.run(0.06)
    assert bench.matrix.settled("G2") and bench.matrix.closed_output("G2") == 1
    assert bench.matrix.groups_on(1) == ["G2"] and bench.sim.connected_output(1) == 1
    bench.matrix.open("G2")
    bench.run(0.06)
    assert bench.matrix.closed_output("G2") is None and bench.sim.connected_output(1) == 0
    assert bench.faults == []


def test_an_output_the_cabinet_does_not_permit_is_refused():
    bench = Bench()
    with pytest.raises(ValueError, match="may not reach output 1"):
        bench.matrix.connect("G3", 1)
    assert bench.matrix.commanded("G3") is None


def test_a_group_on_one_output_must_open_before_it_goes_to_another():
    bench = Bench()
    bench.matrix.connect("G1", 1)
    bench.run(0.06)
    with pytest.raises(ValueError, match="open it first"):
        bench.matrix.connect("G1", 2)
    bench.matrix.open("G1")
    with pytest.raises(ValueError, match="open it first"):  # commanded open, the contact still reports closed
        bench.matrix.connect("G1", 2)
    bench.run(0.06)
    bench.matrix.connect("G1", 2)
    bench.run(0.06)
    assert bench.matrix.closed_output("G1") == 2


def test_a_welded_contact_raises_a_contact_mismatch_after_the_timeout():
    bench = Bench()
    bench.matrix.connect("G1", 2)
    bench.run(0.06)
    bench.sim.welded.add(0)
    bench.matrix.open("G1")
    bench.run(0.16)
    assert bench.faults == []
    bench.run(0.1)
    assert bench.faults == [("MATRIX_CONTACT_MISMATCH", True)]
    assert "MATRIX_CONTACT_MISMATCH" in bench.matrix.active_faults


def test_a_silent_board_is_lost_and_found_again():
    bench = Bench()
    bench.run(0.06)
    bench.board_end.muted = True
    bench.run(0.4)
    assert ("MATRIX_BOARD_LOST", True) in bench.faults and not bench.matrix.online
    bench.board_end.muted = False
    bench.run(0.04)
    assert bench.faults[-1] == ("MATRIX_BOARD_LOST", False) and bench.matrix.online


def test_a_stall_of_the_controller_before_the_feedback_was_read_is_no_contact_mismatch():
    bench = Bench()
    bench.run(0.04)
    bench.matrix.connect("G1", 2)
    bench.clock.advance(0.25)  # the loop stalled: no status read since the command (the board's is on its way)
    bench.matrix.check()
    assert bench.faults == []
    bench.run(0.02)  # the status that shows it closed
    assert bench.matrix.closed_output("G1") == 2 and bench.faults == []
