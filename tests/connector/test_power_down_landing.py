"""A stop on a power matrix cabinet waits for a matrix contact that is closing onto its output before its current
falls (issue #18's late close): lowering the current moves the output's voltage by the battery's I x R, and a
contact landing on a moving voltage closes across it. The wait is bounded; an error shutdown and C->B never
wait."""
from __future__ import annotations

import pytest

from controller.connector.power_down import LANDING_WAIT_S
from tests.connector.test_mutation_kills import Sequence

pytestmark = pytest.mark.timeout(10)


def _current_lowered(seq: Sequence) -> bool:
    return ("group", "set", 400.0, 0.0) in seq.wire


def test_a_stop_holds_its_current_until_the_closing_contact_has_landed_then_lowers_it():
    seq = Sequence()
    seq.group.contact_closing = True
    seq.begin("stop")
    seq.at(0.1)
    assert not _current_lowered(seq) and not seq.opened and not seq.faults
    seq.group.contact_closing = False  # landed: the group joined the port
    seq.at(0.12)
    assert _current_lowered(seq)
    seq.amps = 0.0
    seq.at(0.14)
    assert seq.opened  # and on from there as any stop


def test_the_wait_for_a_landing_is_bounded():
    seq = Sequence()
    seq.group.contact_closing = True  # a contact that never reports landed
    seq.begin("stop")
    seq.at(LANDING_WAIT_S - 0.01)
    assert not _current_lowered(seq)
    seq.at(LANDING_WAIT_S + 0.001)
    assert _current_lowered(seq)


@pytest.mark.parametrize("kind", ["error", "cp_b"])
def test_an_error_shutdown_or_c_to_b_lowers_the_current_at_once_whatever_closes(kind):
    seq = Sequence()
    seq.group.contact_closing = True
    seq.begin(kind)
    assert _current_lowered(seq)


def test_c_to_b_during_the_wait_ends_it_at_the_next_tick():
    seq = Sequence()
    seq.group.contact_closing = True
    seq.begin("stop")
    seq.pd.cp_left_c()
    seq.at(0.02)
    assert _current_lowered(seq)


def test_a_stop_with_nothing_closing_lowers_the_current_at_once():
    seq = Sequence()
    seq.begin("stop")
    assert _current_lowered(seq)


def test_contactors_opening_while_a_contact_lands_keep_the_modules_on_until_it_has_landed_then_switch_them_off():
    seq = Sequence()
    seq.begin("cp_b")  # C->B: no wait before the current falls
    seq.group.contact_closing = True  # a contact set off meanwhile
    seq.amps = 0.0
    seq.at(0.02)
    assert seq.opened and ("group", "off") not in seq.wire  # the contactors on time, the bus still held
    seq.feedback_open = True
    seq.at(0.04)
    assert not seq.safe  # not safe before the modules are off
    seq.group.contact_closing = False
    seq.at(0.06)
    assert seq.wire[-1] == ("group", "off") and seq.safe == 1 and not seq.faults


def test_modules_left_on_for_a_landing_go_off_after_the_bound_whatever_the_contact_reports():
    seq = Sequence()
    seq.begin("cp_b")
    seq.group.contact_closing = True
    seq.amps = 0.0
    seq.at(0.02)
    seq.feedback_open = True
    seq.at(0.02 + LANDING_WAIT_S - 0.01)
    assert ("group", "off") not in seq.wire
    seq.at(0.02 + LANDING_WAIT_S + 0.001)
    assert ("group", "off") in seq.wire and seq.safe == 1 and not seq.faults


def test_a_stop_holds_the_output_at_its_measured_voltage_not_at_the_cars_target():
    from dataclasses import replace

    from controller.connector.ev_session import CurrentDemand
    from tests.connector.test_connector import make, to_charging
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn.ev_current_demand(CurrentDemand(target_voltage_v=410, target_current_a=100))  # CC: the battery sets V
    board.status = replace(board.status, cable_voltage_v=372.0)
    conn.on_io_status(board.status)
    conn.ev_power_delivery(False)
    assert group.setpoint == (pytest.approx(372.0, abs=0.5), 0.0)  # when the contactors open the bus stays there
