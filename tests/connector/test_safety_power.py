"""Issue 13, power findings: what goes on the wires, in which order and when, after faults, stops and CP changes.

`wire` is the one ordered log of board and module commands (tests/connector/fakes.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.connector.ev_session import CurrentDemand, EvChargeParameters, ResponseCode
from controller.faults import Fault
from tests.connector.test_connector import cp, make, settle, to_charging

pytestmark = pytest.mark.timeout(30)


def charging_at(amps: float, **charging):
    """A connector charging with `amps` flowing (modules' telemetry fresh) and its fakes."""
    conn, board, group, clock, events = make(**charging)
    to_charging(conn, board, group, clock)
    conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=amps))
    settle(conn, board, group, clock, steps=3)
    group.output_current_a = amps
    board.wire.clear()
    return conn, board, group, clock, events


def tick(conn, board, clock, dt=0.02, steps=1):
    for _ in range(steps):
        conn.on_io_status(board.status)
        clock.advance(dt)
        conn.tick()


def energizing(wire) -> list[tuple]:
    return [w for w in wire if w in (("board", "close"), ("group", "on"))]


# ---- finding 1: an error fault still active keeps the power off ------------------------------------------------
def test_blocking_fault_still_active_refuses_a_new_session_on_the_same_plug_in():
    conn, board, group, clock, _ = charging_at(40.0)
    conn.on_fault("CONNECTOR_OVERTEMPERATURE", "pin 95 degC", True)
    assert conn.state == "error_shutdown"
    group.output_current_a = 0.0
    settle(conn, board, group, clock, steps=40)
    assert conn.state == "session_end" and not board.contactors_cmd and not group.is_on
    board.wire.clear()
    # the same car starts again while the pin is still hot
    assert conn.ev_setup("abc").code == ResponseCode.FAILED
    assert conn.ev_authorization().code != ResponseCode.OK
    assert conn.ev_cable_check_request().code != ResponseCode.OK
    assert conn.ev_precharge_request(380.0, 2.0).code != ResponseCode.OK
    assert conn.ev_power_delivery(True).code != ResponseCode.OK
    settle(conn, board, group, clock, steps=20)
    assert conn.state == "session_end"
    assert energizing(board.wire) == [] and not any(w[:2] == ("group", "set") for w in board.wire)
    # once the condition is gone a new session may start
    conn.on_fault("CONNECTOR_OVERTEMPERATURE", "", False)
    assert conn.ev_setup("abc").code == ResponseCode.OK


@pytest.mark.parametrize("missing", ["nothing", "fault", "cp_c", "lock"])
def test_energizing_needs_no_fault_cp_c_and_a_confirmed_lock(missing):
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    board.locked = missing != "lock"
    board.apply_contactors()
    cp(conn, board, "B" if missing == "cp_c" else "C")
    conn.machine.set_state("cable_check")  # as if a transition had slipped through
    if missing == "fault":
        conn.active_faults["CONNECTOR_OVERTEMPERATURE"] = Fault("CONNECTOR_OVERTEMPERATURE", 1, "", 0.0)
    board.wire.clear()
    conn.close_contactors()
    conn.switch_on()
    assert energizing(board.wire) == ([("board", "close"), ("group", "on")] if missing == "nothing" else [])


# ---- finding 3: the precharge -> charging handover uses this session's voltage ----------------------------------
def test_handover_uses_this_sessions_precharge_voltage_not_the_previous_cars():
    conn, board, group, clock, _ = make(ramp_up_a_per_s=100.0)
    to_charging(conn, board, group, clock, ev_max_v=500, precharge_v=480.0)
    conn.ev_current_demand(CurrentDemand(target_voltage_v=490, target_current_a=20))
    settle(conn, board, group, clock, steps=5)
    assert group.setpoint[0] == 490.0
    conn.ev_power_delivery(False)
    settle(conn, board, group, clock, steps=10)
    conn.ev_stop_session()
    board.status = replace(board.status, cable_voltage_v=0.0)
    cp(conn, board, "A")
    settle(conn, board, group, clock, steps=5)
    assert conn.state == "available"
    # the next car: 420 V maximum
    to_charging(conn, board, group, clock, ev_max_v=420, precharge_v=380.0)
    after_precharge = len(group.log) - 1 - group.log[::-1].index(("set", 380.0, 2.0))
    for _ in range(3):  # no CurrentDemand yet: the car is closing its contactors
        clock.advance(0.1)
        conn.tick()
    sets = [entry for entry in group.log[after_precharge:] if entry[0] == "set"]
    assert sets and all(v <= 420.0 for _, v, _a in sets), sets
    assert group.setpoint == (380.0, 0.0)


# ---- finding 4: a transition failing half-way ends with the power off --------------------------------------------
def test_exception_during_c_to_b_still_ends_with_modules_off_and_contactors_open():
    conn, board, group, clock, _ = charging_at(24.5)
    group.fail_next["set"] = RuntimeError("module bus write failed")
    board.status = replace(board.status, cp_state="B")
    with pytest.raises(RuntimeError):
        conn.on_io_status(board.status)
    assert not group.is_on and not board.contactors_cmd
    assert board.wire.index(("group", "emergency_off")) < board.wire.index(("board", "open"))
    assert "CONTROLLER_INTERNAL" in conn.active_faults
    conn.on_io_status(board.status)  # the board delivers again: acted on now, nothing left on
    settle(conn, board, group, clock, steps=10)
    assert not group.is_on and not board.contactors_cmd


def test_cp_state_is_recorded_only_after_it_was_acted_on():
    conn, board, group, clock, _ = charging_at(24.5)
    board.fail_next["open"] = RuntimeError("board write failed")  # the fail-safe's own open fails once
    group.fail_next["set"] = RuntimeError("module bus write failed")
    board.status = replace(board.status, cp_state="B")
    with pytest.raises(RuntimeError):
        conn.on_io_status(board.status)
    assert conn.cp_state == "B"
    conn.on_io_status(board.status)  # acted on again: this time the contactors open
    settle(conn, board, group, clock, steps=5)
    assert not group.is_on and not board.contactors_cmd


def test_exception_in_a_car_request_ends_with_power_off():
    conn, board, group, clock, _ = charging_at(50.0)
    group.fail_next["set"] = RuntimeError("module bus write failed")
    with pytest.raises(RuntimeError):  # a lower current goes out at once
        conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=0))
    assert not group.is_on and not board.contactors_cmd


# ---- finding 6: power-down on the measured current, the car told first -------------------------------------------
def test_stop_opens_contactors_only_below_5a_measured():
    conn, board, group, clock, _ = charging_at(100.0)
    conn.ev_power_delivery(False)
    assert conn.state == "stopping" and group.setpoint[1] == 0.0
    group.output_current_a = 10.0  # falling, not yet safe
    tick(conn, board, clock, steps=10)
    group.output_current_a = 5.0  # the boundary is not below 5 A
    tick(conn, board, clock, steps=5)
    assert ("board", "open") not in board.wire and board.contactors_cmd
    group.output_current_a = 4.9
    tick(conn, board, clock)
    assert board.wire.index(("group", "off")) < board.wire.index(("board", "open"))
    settle(conn, board, group, clock, steps=3)
    assert conn.state == "welding_detection"


def test_a_reading_older_than_the_stop_command_does_not_count():
    conn, board, group, clock, _ = charging_at(100.0)
    group.output_current_a, group.telemetry_age_s = 0.0, 1.0  # a stale zero
    conn.ev_power_delivery(False)
    tick(conn, board, clock, steps=5)
    assert ("board", "open") not in board.wire
    group.telemetry_age_s = 0.0
    tick(conn, board, clock)
    assert ("board", "open") in board.wire


def test_cable_current_of_the_io_board_is_preferred_to_module_telemetry():
    conn, board, group, clock, _ = charging_at(100.0)
    group.output_current_a = 0.0  # the modules say zero, the cable says 80 A
    board.status = replace(board.status, cable_current_a=80.0, measure_t=clock() + 10)
    conn.ev_power_delivery(False)
    tick(conn, board, clock, steps=5)
    assert ("board", "open") not in board.wire
    board.status = replace(board.status, cable_current_a=2.0)
    tick(conn, board, clock)
    assert ("board", "open") in board.wire


def test_current_that_does_not_fall_ends_in_an_emergency_after_the_bound():
    conn, board, group, clock, _ = charging_at(100.0)
    conn.ev_power_delivery(False)
    tick(conn, board, clock, dt=0.1, steps=14)
    assert ("board", "open") not in board.wire and conn.state == "stopping"
    tick(conn, board, clock, dt=0.1, steps=2)
    assert "POWER_DOWN_FAILED" in conn.active_faults and conn.state == "emergency"
    assert board.wire.index(("group", "emergency_off")) < board.wire.index(("board", "open"))


def test_error_shutdown_tells_the_car_before_the_contactors_move():
    conn, board, group, clock, _ = charging_at(50.0)
    conn.on_fault("CONNECTOR_OVERTEMPERATURE", "pin 95 degC", True)
    assert conn.state == "error_shutdown" and group.setpoint[1] == 0.0  # current down at once
    group.output_current_a = 0.0
    tick(conn, board, clock, steps=5)
    assert ("board", "open") not in board.wire  # the car has not heard of it yet
    answer = conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=50))
    told_at = len(board.wire)
    assert answer.status.status_code.value == "EVSE_Shutdown" and answer.status.notification.value == "StopCharging"
    tick(conn, board, clock)
    assert board.wire.index(("board", "open")) >= told_at


def test_c_to_b_with_low_measured_current_opens_at_once():
    conn, board, group, clock, _ = charging_at(100.0)
    cp(conn, board, "B")
    group.output_current_a = 1.0
    tick(conn, board, clock, dt=0.01)
    assert ("board", "open") in board.wire and clock() - 1000.0 < 100.0


# ---- finding 7: the CP state counts in every phase -----------------------------------------------------------------
def _to_cable_check(cp_state: str):
    conn, board, group, clock, events = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    cp(conn, board, cp_state)
    board.wire.clear()
    conn.ev_cable_check_request()
    return conn, board, group, clock


def test_cable_check_with_cp_b_never_raises_the_voltage():
    conn, board, group, clock = _to_cable_check("B")
    settle(conn, board, group, clock, steps=50)
    assert conn.state == "cable_check" and energizing(board.wire) == []
    assert not any(w[:2] == ("group", "set") for w in board.wire)


@pytest.mark.parametrize("phase", ["cable_check", "precharge"])
def test_c_to_b_in_cable_check_or_precharge_stops(phase):
    conn, board, group, clock = _to_cable_check("C")
    settle(conn, board, group, clock, steps=5)
    assert group.is_on
    if phase == "precharge":
        board.status = replace(board.status, cable_voltage_v=470.0)
        settle(conn, board, group, clock, steps=40)
        board.status = replace(board.status, cable_voltage_v=10.0)
        settle(conn, board, group, clock, steps=3)
        assert conn.ev_precharge_request(380.0, 2.0).code == ResponseCode.OK and group.is_on
    cp(conn, board, "B")
    assert conn.state == "stopping"
    settle(conn, board, group, clock, steps=6)
    assert not group.is_on and not board.contactors_cmd


def test_precharge_with_cp_b_does_not_switch_the_modules_on():
    conn, board, group, clock = _to_cable_check("C")
    settle(conn, board, group, clock, steps=5)
    board.status = replace(board.status, cable_voltage_v=470.0)
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock, steps=3)
    conn.machine.set_state("precharge")  # reached with CP B: the car never showed C again
    board.status = replace(board.status, cp_state="B")
    conn.control_pilot.reported = "B"
    board.wire.clear()
    conn.ev_precharge_request(380.0, 2.0)
    assert energizing(board.wire) == []


# ---- finding 8: the lock -----------------------------------------------------------------------------------------
def test_unlock_only_below_60v_measured():
    conn, board, group, clock, _ = charging_at(10.0)
    conn.ev_power_delivery(False)
    group.output_current_a = 0.0
    settle(conn, board, group, clock, steps=5)
    board.status = replace(board.status, cable_voltage_v=400.0)  # voltage on the pins (a welded car contactor)
    conn.ev_stop_session()
    settle(conn, board, group, clock, steps=10)
    assert conn.state == "session_end" and board.locked
    board.status = replace(board.status, cable_voltage_v=60.0)
    settle(conn, board, group, clock, steps=3)
    assert board.locked
    board.status = replace(board.status, cable_voltage_v=59.0)
    settle(conn, board, group, clock, steps=1)
    assert not board.locked


def test_emergency_keeps_the_lock_until_the_voltage_is_gone():
    conn, board, group, clock, _ = charging_at(50.0)
    board.status = replace(board.status, cable_voltage_v=400.0)
    conn.on_fault("ESTOP_PRESSED", "button", True)
    assert conn.state == "emergency" and board.locked
    board.status = replace(board.status, cable_voltage_v=30.0)
    settle(conn, board, group, clock, steps=1)
    assert not board.locked


def test_a_lock_that_does_not_confirm_blocks_energizing():
    conn, board, group, clock, _ = make()
    board.lock_works = False
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    cp(conn, board, "C")
    conn.ev_cable_check_request()
    settle(conn, board, group, clock, steps=150, dt=0.02)  # 3 s, past the 2 s lock bound
    assert "CONNECTOR_LOCK_FAILURE" in conn.active_faults
    assert energizing(board.wire) == [] and conn.state in ("error_shutdown", "session_end")


def test_lock_lost_while_charging_is_a_lock_failure():
    conn, board, group, clock, _ = charging_at(50.0)
    board.status = replace(board.status, lock_state="FAULT")
    tick(conn, board, clock)
    assert "CONNECTOR_LOCK_FAILURE" in conn.active_faults and conn.state == "error_shutdown"


def test_the_technicians_contactor_test_needs_the_port_out_of_service_and_no_car():
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.close_contactors_for_test() is False  # available: in service
    conn.set_enabled(False)
    assert conn.state == "unavailable" and conn.close_contactors_for_test() is True
    assert board.max_voltage_v == 60.0 and board.wire[-1] == ("board", "close")
    conn.open_contactors()
    board.wire.clear()
    cp(conn, board, "B")
    assert conn.close_contactors_for_test() is False and ("board", "close") not in board.wire


def test_a_weld_is_found_even_when_the_car_unplugs_right_after_the_stop():
    conn, board, group, clock, _ = charging_at(3.0)
    conn.ev_power_delivery(False)
    group.output_current_a = 0.0
    tick(conn, board, clock)
    assert ("board", "open") in board.wire and board.status.dc_plus_closed  # welded: the feedback stays closed
    cp(conn, board, "B")
    tick(conn, board, clock, dt=0.05)
    cp(conn, board, "A")  # the car leaves 100 ms after the stop
    for _ in range(12):
        clock.advance(0.05)
        conn.tick()  # no new status frame: the board reports on change
    assert "CONTACTOR_WELDED" in conn.active_faults and conn.state == "emergency"


def test_contacts_that_open_in_time_are_no_weld():
    conn, board, group, clock, _ = charging_at(3.0)
    conn.ev_power_delivery(False)
    group.output_current_a = 0.0
    settle(conn, board, group, clock, steps=40)
    assert "CONTACTOR_WELDED" not in conn.active_faults and conn.state == "welding_detection"
