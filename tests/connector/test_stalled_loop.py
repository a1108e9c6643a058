"""A loop (or the whole process) that stood still for a few hundred ms: the first control tick after it is
skipped once, so the frames that arrived meanwhile are handled before any step judges a timeout on old readings;
a loop late on every tick still steps (never two skipped in a row)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.connector.connector import LATE_TICK_S
from controller.connector.ev_session import EvChargeParameters
from tests.connector.test_connector import cp, make

pytestmark = pytest.mark.timeout(30)


def at_contactor_close():
    """A connector in the cable check with its contactors commanded closed and no feedback handled yet."""
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    cp(conn, board, "C")
    conn.ev_cable_check_request()
    for _ in range(20):
        board.apply_contactors()  # the lock
        board.status = replace(board.status, dc_plus_closed=False, dc_minus_closed=False)  # no feedback yet
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
        if board.contactors_cmd:
            break
    assert board.contactors_cmd and conn.cable_check_step() == "close_contactors"
    return conn, board, group, clock


def test_contactor_feedback_queued_behind_a_stall_is_handled_before_the_timeout_is_judged():
    conn, board, group, clock = at_contactor_close()
    clock.advance(0.6)  # stalled past the 0.5 s feedback bound; the board's answer waits in the queue
    conn.tick()
    board.apply_contactors()
    conn.on_io_status(board.status)  # the queued frame: closed
    clock.advance(0.02)
    conn.tick()
    assert "CONTACTOR_NOT_CLOSED" not in conn.active_faults
    assert group.is_on and conn.cable_check_step() == "raise_voltage"


def test_feedback_that_never_comes_is_a_fault_on_the_tick_after_the_stall():
    conn, board, group, clock = at_contactor_close()
    clock.advance(0.6)
    conn.tick()
    assert "CONTACTOR_NOT_CLOSED" not in conn.active_faults  # skipped once
    clock.advance(0.02)
    conn.tick()
    assert "CONTACTOR_NOT_CLOSED" in conn.active_faults and not group.is_on


def test_a_loop_late_on_every_tick_still_steps_every_other_tick():
    conn, board, group, clock = at_contactor_close()
    for _ in range(4):  # 0.2 s late every time, no feedback: judged on the second tick at the latest
        clock.advance(0.2)
        conn.tick()
    assert "CONTACTOR_NOT_CLOSED" in conn.active_faults


def test_a_tick_exactly_late_tick_s_after_the_last_is_on_time():
    conn, board, group, clock, _ = make()
    clock.now = 0.0  # from 0: the 0.15 s difference is exact
    board.online = False  # the first tick finds no board: the port stays out of service
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.state == "unavailable"
    board.online = True
    clock.now = LATE_TICK_S
    conn.tick()  # on time: acted on, not skipped as late
    assert conn.state == "available"
