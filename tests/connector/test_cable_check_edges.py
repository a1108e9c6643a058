"""The cable check at each bound exactly (lock, self-test, contactor feedback, timeout, hold and sample time) and
the words of each of its faults (issue 19's surviving mutants of cable_check.py). Times are sums of powers of
two, so "at the bound" is exact."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.connector.test_connector import settle
from tests.connector.test_safety_checks import at_cable_check, at_test_voltage, finished

pytestmark = pytest.mark.timeout(30)

DT = 0.125


def ticks(conn, board, clock, seconds):
    for _ in range(round(seconds / DT)):
        board.apply_contactors()
        conn.on_io_status(board.status)
        clock.advance(DT)
        conn.tick()


def detail(conn, code):
    return conn.active_faults[code].detail if code in conn.active_faults else None


def test_a_lock_reporting_fault_fails_at_once():
    conn, board, group, clock = at_cable_check()
    board.lock_works = False
    board.status = replace(board.status, lock_state="FAULT")
    conn.on_io_status(board.status)
    clock.advance(DT)
    conn.tick()
    assert detail(conn, "CONNECTOR_LOCK_FAILURE") == "lock reports FAULT before cable check"


def test_a_lock_not_locked_fails_only_after_its_2_s():
    conn, board, group, clock = at_cable_check()
    board.lock_works = False
    ticks(conn, board, clock, 2.0)
    assert "CONNECTOR_LOCK_FAILURE" not in conn.active_faults
    ticks(conn, board, clock, DT)
    assert detail(conn, "CONNECTOR_LOCK_FAILURE") == "lock reports UNLOCKED before cable check"


def test_the_self_test_gets_its_timeout_and_fails_after_it_plus_the_margin_exactly():
    conn, board, group, clock = at_cable_check(imd_self_test_timeout_s=1.0)
    asked = []
    begin = conn.imd.begin_self_test
    conn.imd.begin_self_test = lambda timeout_s: (asked.append(timeout_s), begin(timeout_s))
    conn.imd.self_test_passes = None  # never ends
    ticks(conn, board, clock, DT)
    assert asked == [1.0] and conn.cable_check_step() == "imd_self_test"
    ticks(conn, board, clock, 3.0)  # 1 s + the 2 s margin
    assert "IMD_SELFTEST_FAILED" not in conn.active_faults
    ticks(conn, board, clock, DT)
    assert detail(conn, "IMD_SELFTEST_FAILED") == "no self-test result in cable check"


def test_a_failed_self_test_says_so():
    conn, board, group, clock = at_cable_check()
    conn.imd.self_test_passes = False
    ticks(conn, board, clock, 2 * DT)
    assert detail(conn, "IMD_SELFTEST_FAILED") == "self-test failed in cable check"


def test_a_refusal_at_the_end_of_the_self_test_is_tried_again_on_the_next_ticks():
    conn, board, group, clock = at_cable_check()
    allowed = conn.may_energize
    conn.may_energize = lambda what: False
    ticks(conn, board, clock, 0.5)
    assert conn.cable_check_step() == "energize" and not board.contactors_cmd
    conn.may_energize = allowed
    ticks(conn, board, clock, DT)
    assert board.contactors_cmd and conn.cable_check_step() in ("close_contactors", "raise_voltage")


def test_contactors_without_feedback_fail_after_half_a_second_exactly():
    conn, board, group, clock = at_cable_check()
    board.contactors_close = False
    ticks(conn, board, clock, 2 * DT)  # the self-test, then the contactors
    assert conn.cable_check_step() == "close_contactors"
    ticks(conn, board, clock, 0.5)
    assert "CONTACTOR_NOT_CLOSED" not in conn.active_faults
    ticks(conn, board, clock, DT)
    assert detail(conn, "CONTACTOR_NOT_CLOSED") == "no closed feedback in cable check"


def test_the_cable_check_times_out_after_its_bound_exactly():
    conn, board, group, clock = at_cable_check(cable_check_timeout_s=1.0)
    ticks(conn, board, clock, 2 * DT)  # self-test done: the timeout runs from here
    assert conn.cable_check_step() in ("close_contactors", "raise_voltage")
    ticks(conn, board, clock, 1.0)  # the test voltage is never reached (the cable stays at 0 V)
    assert "CABLE_CHECK_FAILED" not in conn.active_faults
    ticks(conn, board, clock, DT)
    assert detail(conn, "CABLE_CHECK_FAILED") == "step raise_voltage timed out"


def test_the_insulation_is_judged_at_the_hold_and_sample_time_exactly():
    conn, board, group, clock = at_cable_check()
    ticks(conn, board, clock, 3 * DT)  # self-test, contactors, test voltage asked
    assert conn.cable_check_step() == "raise_voltage"
    board.status = replace(board.status, cable_voltage_v=470.0)
    ticks(conn, board, clock, DT)
    assert conn.cable_check_step() == "hold" and conn.imd.cable_check_mode is True
    ticks(conn, board, clock, 0.5 - DT)
    assert group.is_on
    ticks(conn, board, clock, DT)  # 0.5 s held, a reading 0.5 s after the test voltage: judged now
    assert not group.is_on and conn.cable_check_step() == "discharge"
    assert conn.imd.cable_check_mode is False


def test_a_sagging_test_voltage_says_where_it_fell_to():
    conn, board, group, clock = at_test_voltage()
    ticks(conn, board, clock, DT)
    board.status = replace(board.status, cable_voltage_v=400.0)
    ticks(conn, board, clock, DT)
    assert detail(conn, "CABLE_CHECK_FAILED") == "test voltage fell to 400 V"


def test_an_isolation_fault_names_the_resistance_in_kohm():
    conn, board, group, clock = at_test_voltage()
    conn.imd.resistance_ohm = 95_400.0
    ticks(conn, board, clock, 1.0)
    assert detail(conn, "ISOLATION_FAULT") == "95 kohm in cable check"


def test_an_imd_without_any_reading_never_passes(monkeypatch):
    conn, board, group, clock = at_test_voltage()
    monkeypatch.setattr(type(conn.imd), "latest", property(lambda imd: None))
    ticks(conn, board, clock, 2.0)
    assert group.is_on and not finished(conn)


def test_after_the_cable_check_an_invalid_imd_is_not_counted_until_energy_flows_again():
    conn, board, group, clock = at_test_voltage(imd_invalid_after_s=0.25)
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock)
    assert finished(conn) and conn.cable_check_step() == "done"
    conn.imd.valid = False
    ticks(conn, board, clock, 1.0)  # the car takes its time before PreCharge
    assert "IMD_INVALID" not in conn.active_faults


def test_a_locked_cable_still_above_60_v_waits_without_a_lock_fault():
    conn, board, group, clock = at_cable_check()
    board.status = replace(board.status, cable_voltage_v=100.0)  # the last session's charge still on the cable
    ticks(conn, board, clock, 3.0)  # past the lock's 2 s: the lock is LOCKED, only the voltage holds it up
    assert "CONNECTOR_LOCK_FAILURE" not in conn.active_faults
    assert conn.cable_check_step() == "wait_ready"
    board.status = replace(board.status, cable_voltage_v=10.0)
    ticks(conn, board, clock, DT)
    assert conn.cable_check_step() != "wait_ready"
