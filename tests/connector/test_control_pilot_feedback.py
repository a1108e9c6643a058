"""The control pilot from the board's first status, the contactor feedback in the same frame as a CP change, and
the unplug at its bound and after an emergency (issue 19's surviving mutants of control_pilot.py; the first
test found that an invalid CP level present from power-up was never reported)."""
from __future__ import annotations

import pytest

from tests.connector.test_connector import cp, fault_details, make, plugged, stop_reasons, to_charging

pytestmark = pytest.mark.timeout(30)


def test_the_cp_is_invalid_until_the_board_reports_it():
    conn, board, group, clock, events = make()
    assert conn.snapshot()["cp"] == "INVALID"  # no level known yet: nothing in the table may read it as a car
    conn.on_io_status(board.status)
    assert conn.snapshot()["cp"] == "A"


def test_an_invalid_cp_level_in_the_boards_first_status_is_a_fault():
    conn, board, group, clock, events = make()
    cp(conn, board, "INVALID", cp_high_v=7.5)
    assert fault_details(events, "CP_INVALID") == ["CP high 7.5 V"]
    assert not board.contactors_cmd and not group.is_on


@pytest.mark.parametrize("level", ["C", "D"])
def test_contactors_dropping_open_in_the_frame_that_reports_c_or_d_are_contactor_opened(level):
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    board.contactors_close = False  # both poles drop: the board's own frame says so together with the CP level
    board.apply_contactors()
    cp(conn, board, level)
    assert fault_details(events, "CONTACTOR_OPENED") == ["feedback open while commanded closed"]


def test_an_unplug_with_the_stop_current_exactly_flowing_is_an_unplug_not_a_fault():
    conn, board, group, clock, events = make(stop_current_threshold_a=4.0)
    to_charging(conn, board, group, clock)
    group.output_current_a = 4.0
    cp(conn, board, "A")
    assert fault_details(events, "UNPLUGGED_UNDER_LOAD") == []
    assert stop_reasons(events) == ["unplugged"]


def test_an_unplug_above_the_stop_current_names_the_current():
    conn, board, group, clock, events = make(stop_current_threshold_a=4.0)
    to_charging(conn, board, group, clock)
    group.output_current_a = 4.25
    cp(conn, board, "A")
    assert fault_details(events, "UNPLUGGED_UNDER_LOAD") == ["4.2 A flowing"]


def test_an_unplug_after_an_emergency_still_shows_f_for_its_hold_then_recovers():
    conn, board, group, clock, events = plugged(emergency_f_hold_s=0.5)
    cp(conn, board, "E")
    assert conn.state == "emergency"
    board.log.clear()
    clock.advance(0.125)
    conn.tick()
    clock.advance(0.125)
    cp(conn, board, "A")  # the car is gone, but F has not been shown for its 0.5 s yet
    assert conn.state == "emergency" and ("state_f", False) not in board.log
    clock.advance(0.125)
    conn.tick()
    assert conn.state == "emergency"
    clock.advance(0.125)
    conn.tick()  # 0.5 s after the emergency: F released, the port back in service
    assert conn.state == "available" and ("state_f", False) in board.log


def test_an_unplug_after_the_emergencys_hold_recovers_in_the_same_call():
    conn, board, group, clock, events = plugged(emergency_f_hold_s=0.25)
    cp(conn, board, "E")
    for _ in range(4):
        clock.advance(0.125)
        conn.tick()
    assert conn.state == "emergency"  # held by CP_STATE_E, which only an unplug clears
    cp(conn, board, "A")
    assert conn.state == "available"


def test_the_same_cp_level_again_is_not_acted_on_again():
    conn, board, group, clock, events = make()
    conn.on_io_status(board.status)
    board.log.clear()
    group.log.clear()
    for _ in range(3):
        conn.on_io_status(board.status)  # the board repeats its status: still A, nothing to do
    assert board.log == [] and group.log == []


def test_a_failure_while_handling_a_status_cuts_power_and_says_where(monkeypatch):
    conn, board, group, clock, events = plugged()

    def broken():
        raise RuntimeError("weld check broke")

    monkeypatch.setattr(conn, "check_weld", broken)
    group.log.clear()
    board.log.clear()
    with pytest.raises(RuntimeError):
        cp(conn, board, "C")
    assert fault_details(events, "CONTROLLER_INTERNAL") == ["status failed: RuntimeError: weld check broke"]
    assert group.log[0] == ("emergency_off",) and ("open",) in board.log  # the power path's fail-safe off
