"""PowerMatrix driver against the rig's matrix board simulator (in-memory link, test clock)."""
from __future__ import annotations

import can
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
        self.last_command_t = self.clock()

    def run(self, seconds: float, step: float = 0.02) -> None:
        """The board and the driver's loop (a command every command_period_s, as PowerMatrix.run sends them)."""
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            if self.clock() - self.last_command_t >= self.matrix.command_period_s - 1e-9:
                self.matrix.send_command()
                self.last_command_t = self.clock()
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


def _stall(bench: Bench, seconds: float) -> None:
    """The controller's process stalls: the board goes on (contacts, status every 20 ms), its frames queue up."""
    bench.board_end.hold()
    for _ in range(round(seconds / 0.02)):
        bench.clock.advance(0.02)
        bench.sim.tick()


def test_a_queue_of_status_frames_sent_before_the_bound_proves_nothing_after_it_however_late_it_is_handled():
    """Issue #18: the feedback's age came from when a status was handled; after a stall the queued statuses,
    all sent before the contact's bound, counted as new. Their CounterEcho says which command they follow."""
    bench = Bench()
    bench.run(0.06)
    bench.matrix.connect("G1", 2)
    bound_t = bench.clock() + bench.matrix.contact_timeout_s
    _stall(bench, 0.3)  # the contact closes meanwhile: the first statuses in the queue still show it open
    bench.board_end.release()  # handled now, 0.1 s after the bound; the first ones would have been a mismatch
    assert bench.clock() > bound_t and not bench.matrix.reported_since(bound_t)
    assert bench.faults == [] and bench.matrix.closed_output("G1") == 2
    bench.run(0.04)  # the driver's next command, echoed: that feedback is as new as the bound
    assert bench.matrix.reported_since(bound_t) and bench.faults == []


def test_a_welded_contact_is_judged_by_a_fresh_echo_not_by_the_stale_queue_that_shows_it_closed():
    bench = Bench()
    bench.matrix.connect("G1", 2)
    bench.run(0.06)
    bench.sim.welded.add(0)
    bench.matrix.open("G1")
    _stall(bench, 0.3)
    bench.board_end.release()
    assert bench.faults == []  # the queue only shows what the board saw before the bound
    bench.run(0.06)  # a command sent after the bound, echoed, and the contact still closed: welded
    assert bench.faults == [("MATRIX_CONTACT_MISMATCH", True)]


def _status(bench: Bench, echo: int, g1: int = 0) -> None:
    msg = bench.matrix._status_msg
    data = msg.encode({**{f"Group{i}Closed": 0 for i in range(1, 13)}, "Group1Closed": g1, "CounterEcho": echo,
                       "HeartbeatLost": 0, "CommandRefused": 0})
    bench.matrix._handle_status(can.Message(arbitration_id=msg.frame_id, data=data, is_extended_id=False))


def test_an_echo_of_a_counter_never_sent_or_sent_too_long_ago_proves_nothing():
    bench = Bench()
    bench.board_end.muted = True  # only the statuses the test writes
    sent_t = bench.clock()
    bench.matrix.send_command()  # counter 1
    _status(bench, echo=200)  # never sent
    assert not bench.matrix.reported_since(0.0)
    _status(bench, echo=1)
    assert bench.matrix.reported_since(sent_t)
    bench.clock.advance(1.0)
    for _ in range(256):  # the counter wraps: 1 again, 256 commands later
        bench.matrix.send_command()
    _status(bench, echo=129)  # sent 128 commands ago: too old, it may be an older 129's echo
    assert not bench.matrix.reported_since(sent_t + 0.5)
    _status(bench, echo=130)  # 127 ago: counts
    assert bench.matrix.reported_since(sent_t + 0.5)


def test_the_feedback_never_gets_older_when_a_later_frame_echoes_an_older_command():
    bench = Bench()
    bench.board_end.muted = True
    bench.matrix.send_command()  # counter 1
    bench.clock.advance(0.05)
    second_t = bench.clock()
    bench.matrix.send_command()  # counter 2
    _status(bench, echo=2)
    _status(bench, echo=1)  # a board that lost our last command: its feedback is still newer than the frame before
    assert bench.matrix.reported_since(second_t)
