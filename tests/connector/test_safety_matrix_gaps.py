"""Issue 13, gaps the rig's full fault-injection matrix found: a live precharge with a silent car or an output
that left the EV's target, an IMD stuck at invalid during the cable check, and a refusal to energize that
said nothing. Asserted on the wires (tests/connector/fakes.py), with the fake clock."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from controller.connector.ev_session import ResponseCode
from tests.connector.test_connector import make, settle, to_charging
from tests.connector.fakes import FakeStatus
from tests.connector.test_safety_checks import at_cable_check, at_precharge

pytestmark = pytest.mark.timeout(30)


def powered_down(board, group) -> bool:
    return not group.is_on and not board.contactors_cmd


def current_to_zero(wire) -> bool:
    return any(w[:2] == ("group", "set") and w[3] == 0.0 for w in wire) or ("group", "off") in wire \
        or ("group", "emergency_off") in wire


# ---- gap 1: a live precharge is supervised all the way --------------------------------------------------------------
def test_silent_car_in_a_live_precharge_is_an_ev_timeout_after_2s():
    conn, board, group, clock = at_precharge()
    board.status = replace(board.status, cable_voltage_v=379.0)  # reached: the old code trusted it for 14 s
    conn.ev_precharge_request(380.0, 2.0)
    board.wire.clear()
    for _ in range(19):  # 1.9 s of silence
        clock.advance(0.1)
        conn.tick()
    assert "EV_TIMEOUT" not in conn.active_faults and group.is_on
    for _ in range(2):
        clock.advance(0.1)
        conn.tick()
    assert "EV_TIMEOUT" in conn.active_faults and conn.state == "error_shutdown"
    assert current_to_zero(board.wire)
    settle(conn, board, group, clock, steps=40)  # within the error-shutdown bound, not 14 s
    assert powered_down(board, group)


def test_precharge_output_that_leaves_the_target_after_reaching_it_fails():
    conn, board, group, clock = at_precharge()
    board.status = replace(board.status, cable_voltage_v=380.0)
    clock.advance(0.1)
    conn.ev_precharge_request(380.0, 2.0)
    conn.tick()
    board.wire.clear()
    board.status = replace(board.status, cable_voltage_v=415.0)  # 35 V above the target, below the EV's 420 V
    for _ in range(19):  # the car keeps asking: no timeout helps
        clock.advance(0.1)
        conn.ev_precharge_request(380.0, 2.0)
        conn.tick()
    assert "PRECHARGE_FAILED" not in conn.active_faults
    for _ in range(3):
        clock.advance(0.1)
        conn.ev_precharge_request(380.0, 2.0)
        conn.tick()
    assert "PRECHARGE_FAILED" in conn.active_faults and conn.state == "error_shutdown"
    assert current_to_zero(board.wire)
    settle(conn, board, group, clock, steps=40)
    assert powered_down(board, group)


def test_a_new_precharge_target_gives_the_output_its_time_to_follow():
    conn, board, group, clock = at_precharge()
    board.status = replace(board.status, cable_voltage_v=380.0)
    clock.advance(0.1)
    conn.ev_precharge_request(380.0, 2.0)
    conn.tick()
    for step in range(30):  # the car moves its target to 300 V; the output follows within 2.5 s
        board.status = replace(board.status, cable_voltage_v=max(300.0, 380.0 - 4.0 * step))
        clock.advance(0.1)
        conn.ev_precharge_request(300.0 if step else 300.0, 2.0)
        conn.tick()
    assert "PRECHARGE_FAILED" not in conn.active_faults and conn.state == "precharge" and group.is_on
    assert conn.ev_power_delivery(True).code == ResponseCode.OK


# ---- gap 2: an IMD stuck at invalid in the cable check --------------------------------------------------------------
@pytest.mark.parametrize("step", ["raise_voltage", "hold"])
def test_imd_stuck_invalid_in_the_cable_check_raises_imd_invalid_whatever_the_step(step):
    conn, board, group, clock = at_cable_check()
    settle(conn, board, group, clock, steps=5)
    assert group.is_on
    if step == "hold":
        board.status = replace(board.status, cable_voltage_v=470.0)
        settle(conn, board, group, clock, steps=1)
    conn.imd.valid = False
    board.wire.clear()
    for _ in range(9):  # 1.8 s
        settle(conn, board, group, clock, steps=10)
    assert "IMD_INVALID" not in conn.active_faults
    for _ in range(20):  # within 0.4 s more
        settle(conn, board, group, clock, steps=1)
        if "IMD_INVALID" in conn.active_faults:
            break
    assert "IMD_INVALID" in conn.active_faults and conn.state == "error_shutdown"
    assert conn.ev_cable_check_request().code != ResponseCode.OK or \
        conn.ev_cable_check_request().status.notification.value != "None"
    settle(conn, board, group, clock, steps=40)
    assert powered_down(board, group)


def test_an_imd_stuck_invalid_through_its_self_test_raises_imd_invalid_before_the_car_gives_up():
    conn, board, group, clock = at_cable_check(imd_self_test_timeout_s=30.0)
    conn.imd.self_test_passes = None  # never "test done": the resistance channel is stuck at invalid
    conn.imd.valid = False
    settle(conn, board, group, clock, steps=1)
    for _ in range(45):  # 9 s: a self-test may read invalid this long
        settle(conn, board, group, clock, steps=1, dt=0.2)
    assert "IMD_INVALID" not in conn.active_faults and conn.state == "cable_check"
    for _ in range(6):
        settle(conn, board, group, clock, steps=1, dt=0.2)
    assert "IMD_INVALID" in conn.active_faults and conn.state != "cable_check"
    assert ("board", "close") not in board.wire and ("group", "on") not in board.wire


def test_a_self_test_reading_invalid_for_a_few_seconds_is_no_fault():
    conn, board, group, clock = at_cable_check(imd_self_test_timeout_s=30.0)
    conn.imd.self_test_passes = None  # running: the IMD reads invalid while it tests itself
    conn.imd.valid = False
    settle(conn, board, group, clock, steps=1)
    for _ in range(25):  # a 5 s self-test
        settle(conn, board, group, clock, steps=1, dt=0.2)
    assert "IMD_INVALID" not in conn.active_faults
    conn.imd.valid = True
    conn.imd.self_test_result = True
    settle(conn, board, group, clock, steps=5)
    assert group.is_on and "IMD_INVALID" not in conn.active_faults


def test_a_refusal_after_the_self_test_ends_at_the_cable_check_timeout():
    conn, board, group, clock = at_cable_check(cable_check_timeout_s=5.0)
    board.apply_contactors()  # locked: the self-test starts and passes
    conn.on_io_status(board.status)
    clock.advance(0.02)
    conn.tick()
    board.lock_works = False  # then the lock stops confirming: energizing is refused
    board.apply_contactors()
    board.wire.clear()
    for _ in range(240):  # 4.8 s
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
    assert conn.state == "cable_check"
    for _ in range(30):
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
    assert "CABLE_CHECK_FAILED" in conn.active_faults and conn.state != "cable_check"
    assert ("board", "close") not in board.wire and ("group", "on") not in board.wire


# ---- gap 3: a refusal to energize for a stale measurement says why ----------------------------------------------------
def measured_step(conn, board, clock, volts, dt=0.02, silent=False):
    """One control period: the board's DC measure frame (unless the sensor is silent), status and tick."""
    clock.advance(dt)
    if not silent:
        board.measure(clock(), volts)
    board.apply_contactors()
    conn.on_io_status(board.status)
    conn.tick()


def test_sensor_silent_after_a_quick_stop_raises_stale_and_the_next_session_is_refused_with_it():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    for _ in range(5):
        measured_step(conn, board, clock, 380.0)
    conn.ev_power_delivery(False)
    for _ in range(5):  # the stop is over in 100 ms, inside the 200 ms staleness bound
        measured_step(conn, board, clock, 10.0)
    conn.ev_welding_detection()
    conn.ev_stop_session()
    assert conn.state == "session_end" and "VOLTAGE_MEASUREMENT_STALE" not in conn.active_faults
    for _ in range(15):  # the DC measure has stopped: 300 ms
        measured_step(conn, board, clock, 0.0, silent=True)
    assert "VOLTAGE_MEASUREMENT_STALE" in conn.active_faults  # the technician sees why
    board.wire.clear()
    answer = conn.ev_setup("abc")  # the car tries again on the same plug-in: refused, and it is told why
    assert answer.code == ResponseCode.FAILED
    assert answer.status.notification.value != "None"
    for _ in range(10):
        measured_step(conn, board, clock, 0.0, silent=True)
    assert ("board", "close") not in board.wire and ("group", "on") not in board.wire
    measured_step(conn, board, clock, 0.0)  # the sensor is back: the fault clears by itself
    assert "VOLTAGE_MEASUREMENT_STALE" not in conn.active_faults


def test_a_refusal_to_energize_for_a_stale_measurement_raises_its_code_at_once():
    conn, board, group, clock = at_cable_check()
    board.apply_contactors()  # the lock confirms
    board.measure(clock(), 10.0)
    conn.on_io_status(board.status)
    clock.advance(0.3)  # no tick in between: the refusal itself must say why
    board.wire.clear()
    assert not conn.may_energize("contactors")
    assert "VOLTAGE_MEASUREMENT_STALE" in conn.active_faults
    assert ("board", "close") not in board.wire and ("group", "on") not in board.wire


# ---- gap 4: the I/O board's own over-voltage trip is one emergency, its F no CP fault --------------------------------
@dataclass(frozen=True)
class TripStatus(FakeStatus):
    """A board status with the trip fields of controller.hw.io_board.IoStatus."""
    watchdog_tripped: bool = False
    trip_cause: str = "NONE"


def tripped(status, cause: str) -> TripStatus:
    fields = {k: getattr(status, k) for k in FakeStatus.__dataclass_fields__}
    return TripStatus(**{**fields, "cp_state": "F", "dc_plus_closed": False, "dc_minus_closed": False},
                      watchdog_tripped=cause != "NONE", trip_cause=cause)


@pytest.mark.parametrize("cause,code", [("OVERVOLTAGE", "IO_BOARD_OVERVOLTAGE_TRIP"),
                                        ("HEARTBEAT_LOST", "IO_WATCHDOG_TRIPPED")])
def test_the_f_of_a_tripped_board_is_not_a_cp_fault(cause, code):
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    board.wire.clear()
    # the board opened by itself and shows F; its driver reports the trip's own code
    board.status = tripped(board.status, cause)
    conn.on_fault(code, f"board tripped ({cause})", True)
    conn.on_io_status(board.status)
    for _ in range(5):
        clock.advance(0.02)
        conn.on_io_status(board.status)
        conn.tick()
    assert conn.state == "emergency"
    assert "CP_STATE_F" not in conn.active_faults and code in conn.active_faults
    assert board.wire.index(("group", "emergency_off")) < board.wire.index(("board", "open"))  # modules first


def test_an_f_that_outlasts_the_trip_is_a_cp_fault():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    board.status = tripped(board.status, "OVERVOLTAGE")
    conn.on_fault("IO_BOARD_OVERVOLTAGE_TRIP", "board tripped", True)
    conn.on_io_status(board.status)
    assert "CP_STATE_F" not in conn.active_faults
    board.status = tripped(board.status, "NONE")  # reset: the board no longer holds a trip, the CP still reads F
    conn._state_f_requested = False  # the connector's own F hold is over
    conn.on_io_status(board.status)
    assert "CP_STATE_F" in conn.active_faults
