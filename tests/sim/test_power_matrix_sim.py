"""The rig's matrix board: contact delay and feedback, the protocol's refusals, and the count of contacts
switched under load (more than 1 A through or 20 V across)."""
from __future__ import annotations

import pytest

from controller.formats.can.dbc import load_dbc
from controller.formats.can.e2e import e2e_crc
from hil.sim.power_matrix import PowerMatrixSim
from tests.fakes.clock import FakeClock
from tests.power_sharing.loopback import CircuitStub, loopback_pair

pytestmark = pytest.mark.timeout(10)

DB = load_dbc("power_matrix")
COMMAND = DB.get_message_by_name("MatrixCommand")
STATUS = DB.get_message_by_name("MatrixStatus")


class Bench:
    def __init__(self, groups: int = 4) -> None:
        self.clock = FakeClock()
        self.circuit = CircuitStub()
        self.controller, board_end = loopback_pair()
        self.statuses: list[dict] = []
        self.controller.on(STATUS.frame_id, lambda m: self.statuses.append(STATUS.decode(m.data, decode_choices=False)))
        self.sim = PowerMatrixSim(board_end, self.circuit, groups, contact_delay_s=0.03, clock=self.clock)
        self.sim.attach()
        self.counter = 0

    def command(self, outputs: dict[int, int], crc_ok: bool = True) -> None:
        self.counter = (self.counter + 1) % 256
        values = {"Crc": 0, "Counter": self.counter, **{f"Group{g}Output": 0 for g in range(1, 13)}}
        values.update({f"Group{g}Output": o for g, o in outputs.items()})
        data = bytearray(COMMAND.encode(values))
        data[0] = e2e_crc(COMMAND.frame_id, bytes(data[1:])) ^ (0 if crc_ok else 1)
        self.controller.send(COMMAND.frame_id, bytes(data))

    def after(self, seconds: float) -> dict:
        self.clock.advance(seconds)
        self.sim.tick()
        return self.statuses[-1]


def test_a_contact_closes_after_its_delay_and_the_feedback_follows():
    bench = Bench()
    bench.command({2: 3})
    assert bench.after(0.01)["Group2Closed"] == 0
    status = bench.after(0.03)
    assert status["Group2Closed"] == 3 and status["Group1Closed"] == 0
    assert bench.sim.connected_output(1) == 3
    assert status["CounterEcho"] == bench.counter


def test_a_contact_opened_with_current_through_it_counts_as_under_load():
    bench = Bench()
    bench.command({1: 1})
    bench.after(0.05)
    bench.circuit.currents[0] = 5.0
    bench.command({})
    bench.after(0.05)
    assert bench.sim.under_load_count == 1
    assert bench.sim.report()["matrix_switched_under_load"] == 1


def test_a_contact_opened_below_one_ampere_and_closed_within_twenty_volts_is_clean():
    bench = Bench()
    bench.circuit.group_volts[0], bench.circuit.output_volts[1] = 410.0, 395.0  # 15 V across
    bench.command({1: 1})
    bench.after(0.05)
    bench.circuit.currents[0] = 0.8
    bench.command({})
    bench.after(0.05)
    assert len(bench.sim.switchings) == 2 and bench.sim.under_load_count == 0


def test_a_contact_closed_with_more_than_twenty_volts_across_counts_as_inrush():
    bench = Bench()
    bench.circuit.group_volts[0], bench.circuit.output_volts[2] = 0.0, 400.0
    bench.command({1: 2})
    bench.after(0.05)
    assert bench.sim.under_load_count == 1 and bench.sim.switchings[0].closed


def test_a_group_is_never_moved_straight_to_another_output():
    bench = Bench()
    bench.command({1: 1})
    bench.after(0.05)
    bench.command({1: 2})
    status = bench.after(0.05)
    assert status["Group1Closed"] == 1 and status["CommandRefused"] == 1


def test_a_welded_contact_stays_closed_and_a_bad_crc_is_ignored():
    bench = Bench()
    bench.command({3: 4})
    bench.after(0.05)
    bench.command({}, crc_ok=False)
    assert bench.after(0.05)["Group3Closed"] == 4 and bench.sim.rejected_commands == 1
    bench.sim.welded.add(2)
    bench.command({})
    assert bench.after(0.05)["Group3Closed"] == 4


def test_without_commands_the_board_shows_heartbeat_lost_and_holds_its_contacts():
    bench = Bench()
    bench.command({1: 2})
    bench.after(0.05)
    status = bench.after(0.4)
    assert status["HeartbeatLost"] == 1 and status["Group1Closed"] == 2


def test_a_status_echoes_the_last_accepted_command_and_its_feedback_was_read_after_that_command_arrived():
    """The controller dates the feedback by the echoed command's send time (controller/hw/power/matrix_echo.py):
    a frame that echoes a command must not carry feedback read before that command was applied."""
    bench = Bench()
    bench.sim.contact_delay_s = 0.0  # a contact that follows at once: the feedback shows each command applied
    for outputs in ({1: 2}, {}, {3: 1}, {3: 1, 2: 4}):
        bench.command(outputs)
        status = bench.after(0.02)
        assert status["CounterEcho"] == bench.counter
        assert [status[f"Group{g}Closed"] for g in range(1, 5)] == [outputs.get(g, 0) for g in range(1, 5)]
    echoed = bench.counter
    bench.command({1: 1}, crc_ok=False)  # not accepted: not echoed, not applied
    status = bench.after(0.02)
    assert status["CounterEcho"] == echoed and status["Group1Closed"] == 0
    bench.counter = (bench.counter + 100) % 256  # a counter step the board does not accept
    bench.command({1: 1})
    status = bench.after(0.02)
    assert status["CounterEcho"] == echoed and status["Group1Closed"] == 0
