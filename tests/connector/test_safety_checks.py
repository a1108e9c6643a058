"""Issue 13, checks: the isolation reading in cable check, supervised precharge, the car's values, the table's
guards and the catalogue's severities, asserted on the wires (issue 19's surviving mutants)."""
from __future__ import annotations

import logging
import math
from dataclasses import replace

import pytest
from transitions import MachineError

from controller.connector.ev_session import CurrentDemand, EvChargeParameters, ResponseCode
from controller.faults import CATALOGUE
from controller.formats.events import FaultRaised
from controller.hw.imd import ImdReading
from tests.connector.test_connector import cp, make, settle, to_charging

pytestmark = pytest.mark.timeout(30)


def at_cable_check(**charging):
    conn, board, group, clock, events = make(**charging)
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    cp(conn, board, "C")
    board.wire.clear()
    assert conn.ev_cable_check_request().processing.value == "Ongoing"
    return conn, board, group, clock


def at_test_voltage(**charging):
    """Cable check with the test voltage (470 V) on the cable."""
    conn, board, group, clock = at_cable_check(**charging)
    settle(conn, board, group, clock, steps=5)
    assert group.is_on and group.setpoint == (470.0, 2.0)
    board.status = replace(board.status, cable_voltage_v=470.0)
    return conn, board, group, clock


def finished(conn) -> bool:
    return conn.ev_cable_check_request().processing.value == "Finished"


# ---- finding 9: the insulation is judged by a valid reading only ------------------------------------------------------
def test_cable_check_without_an_imd_never_passes():
    conn, board, group, clock, _ = make()
    conn.imd = None
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    cp(conn, board, "C")
    answer = conn.ev_cable_check_request()
    assert answer.code != ResponseCode.OK or answer.status.isolation.value != "Valid"
    assert conn.active_faults["CABLE_CHECK_FAILED"].detail == "no insulation monitor configured for this connector"
    settle(conn, board, group, clock, steps=20)
    assert ("board", "close") not in board.wire and ("group", "on") not in board.wire


@pytest.mark.parametrize("fault", ["invalid", "device_error", "no_system_voltage"])
def test_a_reading_that_is_not_valid_never_judges_the_insulation(fault):
    conn, board, group, clock = at_test_voltage()
    if fault == "invalid":
        conn.imd.valid = False
    elif fault == "device_error":
        conn.imd.device_error = True
    else:
        conn.imd.frozen = None
        conn.imd.board = type("NoVoltage", (), {"status": replace(board.status, cable_voltage_v=0.0)})()
    settle(conn, board, group, clock, steps=60)
    assert group.is_on and not finished(conn)  # still holding, waiting for a reading that counts
    conn.imd.valid, conn.imd.device_error, conn.imd.board = True, False, board
    settle(conn, board, group, clock, steps=30)
    assert not group.is_on  # judged: discharging


def test_a_stale_reading_from_before_the_test_voltage_never_judges():
    conn, board, group, clock = at_test_voltage()
    conn.imd.frozen = ImdReading(resistance_ohm=5e6, system_voltage_v=470.0, resistance_valid=True, prewarning=False,
                                 alarm=False, device_error=False, test_done=True, t=clock() - 0.1)
    settle(conn, board, group, clock, steps=100)
    assert group.is_on and not finished(conn)
    conn.imd.frozen = None
    settle(conn, board, group, clock, steps=30)
    assert not group.is_on


def test_a_low_fresh_reading_is_an_isolation_fault():
    conn, board, group, clock = at_test_voltage()
    conn.imd.resistance_ohm = 99_000.0
    settle(conn, board, group, clock, steps=40)
    assert "ISOLATION_FAULT" in conn.active_faults and conn.state == "emergency"


def test_imd_stuck_invalid_while_charging_raises_a_fault():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn.imd.valid = False
    for _ in range(18):  # 1.8 s
        clock.advance(0.1)
        conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=10))
        conn.tick()
    assert "IMD_INVALID" not in conn.active_faults
    for _ in range(4):
        clock.advance(0.1)
        conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=10))
        conn.tick()
    assert "IMD_INVALID" in conn.active_faults and conn.state in ("error_shutdown", "session_end")


def test_the_self_test_has_its_own_bound_outside_the_cable_check_timeout():
    conn, board, group, clock = at_cable_check(cable_check_timeout_s=5.0, imd_self_test_timeout_s=30.0)
    conn.imd.self_test_passes = None  # running
    settle(conn, board, group, clock, steps=2)
    clock.advance(20.0)  # a 20 s self-test
    settle(conn, board, group, clock, steps=1)
    conn.imd.self_test_result = True
    settle(conn, board, group, clock, steps=5)
    assert "CABLE_CHECK_FAILED" not in conn.active_faults and group.is_on
    board.status = replace(board.status, cable_voltage_v=470.0)
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock, steps=3)
    assert finished(conn)


def test_cable_check_discharge_waits_for_below_60v():
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=40)
    assert not group.is_on
    board.status = replace(board.status, cable_voltage_v=60.0)
    settle(conn, board, group, clock, steps=5)
    assert not finished(conn)
    assert conn.ev_precharge_request(380.0, 2.0).code == ResponseCode.FAILED_SEQUENCE_ERROR
    board.status = replace(board.status, cable_voltage_v=59.0)
    settle(conn, board, group, clock, steps=1)
    assert finished(conn)


# ---- finding 11: precharge is supervised -------------------------------------------------------------------------------
def at_precharge():
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock, steps=3)
    assert conn.ev_precharge_request(380.0, 2.0).code == ResponseCode.OK and group.is_on
    return conn, board, group, clock


def test_precharge_that_never_reaches_the_target_fails_after_its_timeout():
    conn, board, group, clock = at_precharge()
    for _ in range(68):  # 6.8 s of PreCharge requests, the output stuck at 300 V
        board.status = replace(board.status, cable_voltage_v=300.0)
        clock.advance(0.1)
        conn.ev_precharge_request(380.0, 2.0)
        conn.tick()
    assert conn.state == "precharge"
    for _ in range(5):
        clock.advance(0.1)
        conn.tick()
    assert "PRECHARGE_FAILED" in conn.active_faults
    settle(conn, board, group, clock, steps=40)
    assert not group.is_on and not board.contactors_cmd


def test_precharge_without_power_delivery_is_bounded():
    conn, board, group, clock = at_precharge()
    board.status = replace(board.status, cable_voltage_v=379.0)
    for _ in range(145):  # the car keeps asking for precharge (a silent one is an EV_TIMEOUT after 2 s)
        clock.advance(0.1)
        conn.ev_precharge_request(380.0, 2.0)
        conn.tick()
    assert "PRECHARGE_FAILED" in conn.active_faults and "EV_TIMEOUT" not in conn.active_faults


@pytest.mark.parametrize("present,ok", [(359.0, False), (361.0, True), (401.0, False)])
def test_power_delivery_start_needs_the_output_within_20v_of_the_target(present, ok):
    conn, board, group, clock = at_precharge()
    board.status = replace(board.status, cable_voltage_v=present)
    answer = conn.ev_power_delivery(True)
    assert (answer.code == ResponseCode.OK) is ok
    assert (conn.state == "charging") is ok
    assert ("PRECHARGE_FAILED" in conn.active_faults) is not ok


def test_precharge_target_above_the_evs_maximum_is_refused():
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock, steps=3)
    board.wire.clear()
    answer = conn.ev_precharge_request(450.0, 2.0)  # cable allows 500 V, the car said 420 V
    assert answer.code == ResponseCode.FAILED_WRONG_CHARGE_PARAMETER
    assert ("group", "on") not in board.wire and not any(w[:2] == ("group", "set") for w in board.wire)


# ---- finding 13: the car's values are checked ---------------------------------------------------------------------------
def test_negative_target_voltage_is_refused_and_the_port_stays_in_service():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    answer = conn.ev_current_demand(CurrentDemand(target_voltage_v=-400, target_current_a=50))
    assert answer.code == ResponseCode.FAILED_WRONG_CHARGE_PARAMETER
    assert conn.active_faults["EV_REQUEST_INVALID"].severity == "warning"
    clock.advance(0.1)
    conn.tick()  # no exception, no latch
    assert "CONTROLLER_INTERNAL" not in conn.active_faults and group.setpoint[1] == 0.0
    assert all(v >= 0 for kind, *rest in group.log if kind == "set" for v in rest[:1])
    cp(conn, board, "A")
    settle(conn, board, group, clock, steps=20)
    assert conn.state == "available" and not conn.active_faults


@pytest.mark.parametrize("ev", [
    EvChargeParameters(max_voltage_v=math.nan, max_current_a=150),
    EvChargeParameters(max_voltage_v=420, max_current_a=-1),
    EvChargeParameters(max_voltage_v=420, max_current_a=150, soc_percent=140),
    EvChargeParameters(max_voltage_v=math.inf, max_current_a=150),
])
def test_bad_charge_parameters_are_refused(ev):
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    answer = conn.ev_charge_parameter_discovery(ev)
    assert answer.code == ResponseCode.FAILED_WRONG_CHARGE_PARAMETER and conn.ev_parameters is None
    assert "EV_REQUEST_INVALID" in conn.active_faults and not conn.blocking_faults()


@pytest.mark.parametrize("voltage,current", [(math.nan, 2.0), (-1.0, 2.0), (380.0, math.nan), (380.0, -2.0)])
def test_bad_precharge_values_are_refused(voltage, current):
    conn, board, group, clock = at_test_voltage()
    settle(conn, board, group, clock, steps=40)
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock, steps=3)
    board.wire.clear()
    assert conn.ev_precharge_request(voltage, current).code == ResponseCode.FAILED_WRONG_CHARGE_PARAMETER
    assert ("group", "on") not in board.wire


# ---- the table's guards (issue 19 mutants) -------------------------------------------------------------------------------
def test_precharge_before_the_cable_check_finished_is_a_sequence_error():
    conn, board, group, clock = at_test_voltage()
    assert conn.ev_precharge_request(380.0, 2.0).code == ResponseCode.FAILED_SEQUENCE_ERROR
    assert conn.state != "precharge"


def test_precharge_before_the_cable_check_started_is_a_sequence_error():
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    assert conn.ev_precharge_request(380.0, 2.0).code == ResponseCode.FAILED_SEQUENCE_ERROR
    assert ("group", "on") not in board.wire


def test_current_demand_before_power_delivery_is_a_sequence_error():
    conn, board, group, clock = at_precharge()
    answer = conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=50))
    assert answer.code == ResponseCode.FAILED_SEQUENCE_ERROR and conn.state != "charging"


def test_no_charging_without_authorization():
    conn, board, group, clock, _ = make(auto_authorize=False)
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    assert conn.ev_authorization().processing.value == "Ongoing"
    answer = conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
    assert answer.code != ResponseCode.OK and conn.state != "parameter_discovery"


def test_emergency_power_off_is_modules_then_contactors_before_anything_is_recorded():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    board.wire.clear()
    seen_at_event = []
    conn._emit = lambda event: seen_at_event.append(list(board.wire)) if isinstance(event, FaultRaised) else None
    cp(conn, board, "E")
    assert board.wire.index(("group", "emergency_off")) < board.wire.index(("board", "open"))
    assert seen_at_event and seen_at_event[0][:2] == [("group", "emergency_off"), ("board", "open")]


@pytest.mark.parametrize("pole", ["dc_plus_closed", "dc_minus_closed"])
def test_one_contactor_pole_dropping_under_load_is_contactor_opened(pole):
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    board.status = replace(board.status, **{pole: False})
    conn.on_io_status(board.status)
    assert "CONTACTOR_OPENED" in conn.active_faults and conn.state == "emergency"


def test_contactor_feedback_that_stays_closed_is_a_weld():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn.ev_power_delivery(False)
    for _ in range(40):  # the board is told to open, its feedback stays closed
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
    assert ("board", "open") in board.wire and "CONTACTOR_WELDED" in conn.active_faults


@pytest.mark.parametrize("code,severity,clears", [
    ("ISOLATION_FAULT", "emergency", "unplug"), ("ESTOP_PRESSED", "emergency", "latched"),
    ("CONTACTOR_WELDED", "emergency", "latched"), ("CONTACTOR_OPENED", "emergency", "unplug"),
    ("POWER_DOWN_FAILED", "emergency", "unplug"), ("CONNECTOR_LOCK_FAILURE", "error", "unplug"),
    ("PRECHARGE_FAILED", "error", "unplug"), ("IMD_INVALID", "error", "auto"),
    ("EV_REQUEST_INVALID", "warning", "unplug"), ("CONTROLLER_INTERNAL", "emergency", "latched"),
])
def test_catalogue_pins_severity_and_clearing(code, severity, clears):
    assert (CATALOGUE[code].severity, CATALOGUE[code].clears) == (severity, clears)


# ---- MINORs ----------------------------------------------------------------------------------------------------------------
def test_car_silence_stops_after_one_second_not_five():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=50))
    for _ in range(9):
        clock.advance(0.1)
        conn.tick()
    assert conn.state == "charging"
    for _ in range(3):
        clock.advance(0.1)
        conn.tick()
    assert "EV_TIMEOUT" in conn.active_faults and group.setpoint[1] == 0.0


def test_a_trigger_that_does_not_fit_is_visible(caplog):
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    with caplog.at_level(logging.INFO):
        assert conn.fire("output_safe") is False
    assert "output_safe does not apply in state available" in caplog.text
    with pytest.raises(MachineError):
        conn.output_safe()  # the machine no longer swallows it


def test_an_ev_power_limit_of_zero_means_none():
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("abc")
    conn.ev_authorization()
    ev = EvChargeParameters(max_voltage_v=420, max_current_a=150, max_power_w=0.0)
    assert conn.ev_charge_parameter_discovery(ev).code == ResponseCode.OK
    assert conn.power_limit_w() == 60_000.0
