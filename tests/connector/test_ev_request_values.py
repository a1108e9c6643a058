"""Every value the car sends is checked field by field: a bad one is answered FAILED_WrongChargeParameter and
recorded with the field's name and value; a request out of order is recorded with its name and the state
(issue 19's surviving mutants of ev_requests.py: each check, its bound and the words a technician reads)."""
from __future__ import annotations

import math

import pytest

from controller.connector.ev_session import CurrentDemand, EvChargeParameters, ResponseCode
from tests.connector.test_connector import fault_details, make, plugged, to_charging

pytestmark = pytest.mark.timeout(30)

VALID_EV = dict(max_voltage_v=420.0, max_current_a=150.0)


def authorizing():
    conn, board, group, clock, events = plugged()
    conn.ev_setup("abc")
    conn.ev_authorization()
    assert conn.state == "authorizing"
    return conn, events


@pytest.mark.parametrize("field, value, detail", [
    ("max_voltage_v", 0.0, "EVMaximumVoltageLimit 0 is not positive"),
    ("max_voltage_v", math.nan, "EVMaximumVoltageLimit nan is not a number"),
    ("max_voltage_v", True, "EVMaximumVoltageLimit True is not a number"),
    ("max_current_a", 0.0, "EVMaximumCurrentLimit 0 is not positive"),
    ("max_current_a", -5.0, "EVMaximumCurrentLimit -5 is not positive"),
    ("max_power_w", -1.0, "EVMaximumPowerLimit -1 is negative"),
    ("soc_percent", 100.5, "SOC 100.5 above the negotiated 100"),
    ("soc_percent", -1.0, "SOC -1 is negative"),
    ("energy_capacity_wh", -1.0, "EVEnergyCapacity -1 is negative"),
    ("energy_request_wh", -1.0, "EVEnergyRequest -1 is negative"),
    ("energy_request_wh", "x", "EVEnergyRequest 'x' is not a number"),
])
def test_each_bad_charge_parameter_is_refused_by_name(field, value, detail):
    conn, events = authorizing()
    answer = conn.ev_charge_parameter_discovery(EvChargeParameters(**{**VALID_EV, field: value}))
    assert answer.code == ResponseCode.FAILED_WRONG_CHARGE_PARAMETER
    assert fault_details(events, "EV_REQUEST_INVALID") == [f"ChargeParameterDiscovery: {detail}"]
    assert conn.state == "authorizing" and conn.ev_parameters is None


@pytest.mark.parametrize("field, value", [
    ("max_power_w", 0.0),  # none given (a production MG4 sends 0)
    ("soc_percent", 100.0), ("soc_percent", 0.0), ("energy_capacity_wh", 0.0), ("energy_request_wh", 0.0),
])
def test_charge_parameters_at_their_bounds_are_accepted(field, value):
    conn, events = authorizing()
    answer = conn.ev_charge_parameter_discovery(EvChargeParameters(**{**VALID_EV, field: value}))
    assert answer.code == ResponseCode.OK and conn.state == "parameter_discovery"
    assert fault_details(events, "EV_REQUEST_INVALID") == []


VALID_DEMAND = dict(target_voltage_v=390.0, target_current_a=50.0)


def charging_with_current():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    assert conn.ev_current_demand(CurrentDemand(**VALID_DEMAND)).code == ResponseCode.OK
    assert group.setpoint[1] > 0
    return conn, group, events


@pytest.mark.parametrize("field, value, detail", [
    ("target_voltage_v", -1.0, "EVTargetVoltage -1 is negative"),
    ("target_current_a", math.inf, "EVTargetCurrent inf is not a number"),
    ("soc_percent", 100.5, "SOC 100.5 above the negotiated 100"),
    ("max_voltage_v", 0.0, "EVMaximumVoltageLimit 0 is not positive"),
    ("max_current_a", 0.0, "EVMaximumCurrentLimit 0 is not positive"),
    ("max_power_w", -1.0, "EVMaximumPowerLimit -1 is negative"),
])
def test_each_bad_current_demand_value_holds_the_current_at_zero_and_is_named(field, value, detail):
    conn, group, events = charging_with_current()
    answer = conn.ev_current_demand(CurrentDemand(**{**VALID_DEMAND, field: value}))
    assert answer.code == ResponseCode.FAILED_WRONG_CHARGE_PARAMETER
    assert group.setpoint[1] == 0.0 and conn.state == "charging"
    assert fault_details(events, "EV_REQUEST_INVALID") == [f"CurrentDemand: {detail}"]


@pytest.mark.parametrize("field, value", [("max_power_w", 0.0), ("soc_percent", 100.0)])
def test_current_demand_values_at_their_bounds_are_served(field, value):
    conn, group, events = charging_with_current()
    answer = conn.ev_current_demand(CurrentDemand(**{**VALID_DEMAND, field: value}))
    assert answer.code == ResponseCode.OK and group.setpoint[1] > 0
    assert fault_details(events, "EV_REQUEST_INVALID") == []


# ---- out of order: the request's own name and the state, in the record ---------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda c: c.ev_setup("abc"), "SessionSetup"),
    (lambda c: c.ev_authorization(), "Authorization"),
    (lambda c: c.ev_charge_parameter_discovery(EvChargeParameters(**VALID_EV)), "ChargeParameterDiscovery"),
    (lambda c: c.ev_cable_check_request(), "CableCheck"),
    (lambda c: c.ev_precharge_request(380.0, 2.0), "PreCharge"),
    (lambda c: c.ev_power_delivery(True), "PowerDelivery(start)"),
    (lambda c: c.ev_welding_detection(), "WeldingDetection"),
])
def test_a_request_out_of_order_is_recorded_with_its_name_and_the_state(call, name):
    conn, group, events = charging_with_current()
    assert call(conn).code == ResponseCode.FAILED_SEQUENCE_ERROR
    assert fault_details(events, "EV_SEQUENCE_ERROR") == [f"{name} in state charging"]


@pytest.mark.parametrize("call, name", [
    (lambda c: c.ev_power_delivery(False), "PowerDelivery(stop)"),
    (lambda c: c.ev_current_demand(CurrentDemand(**VALID_DEMAND)), "CurrentDemand"),
])
def test_a_stop_or_demand_before_the_session_is_recorded_with_its_name(call, name):
    conn, board, group, clock, events = plugged()
    assert call(conn).code == ResponseCode.FAILED_SEQUENCE_ERROR
    assert fault_details(events, "EV_SEQUENCE_ERROR") == [f"{name} in state plugged"]


# ---- what every answer carries -------------------------------------------------------------------------------------
def test_session_setup_answers_the_new_sessions_id_and_discovery_keeps_the_soc():
    conn, board, group, clock, events = plugged()
    answer = conn.ev_setup("abc")
    assert answer.session_id == conn.session.session_id != ""
    conn.ev_authorization()
    conn.ev_charge_parameter_discovery(EvChargeParameters(**VALID_EV, soc_percent=37.0))
    assert conn.snapshot()["soc"] == 37.0


def test_present_values_are_rounded_to_a_tenth_and_a_negative_current_is_zero():
    conn, group, events = charging_with_current()
    group.answer(conn.clock(), 401.26, 100.26)
    conn.io.measure(conn.clock(), 401.26, 100.26)
    answer = conn.ev_current_demand(CurrentDemand(**VALID_DEMAND))
    assert (answer.present_voltage_v, answer.present_current_a) == (401.3, 100.3)
    group.output_current_a = -0.4  # a module's offset at no load
    assert conn.ev_current_demand(CurrentDemand(**VALID_DEMAND)).present_current_a == 0.0


def test_an_emergency_is_told_until_the_port_recovers_even_with_its_fault_gone():
    conn, group, events = charging_with_current()
    conn.on_fault("IO_BOARD_LOST", "test", True)  # clears by itself
    conn.on_fault("IO_BOARD_LOST", "", False)
    assert conn.state == "emergency" and not conn.active_faults
    answer = conn.ev_current_demand(CurrentDemand(**VALID_DEMAND))
    assert answer.status.status_code.value == "EVSE_EmergencyShutdown" and answer.code == ResponseCode.FAILED


def test_an_error_shutdown_is_told_while_it_lasts_and_after_it_with_the_fault_active():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    conn.on_fault("VOLTAGE_MEASUREMENT_STALE", "test", True)  # an error that clears by itself
    assert conn.state == "error_shutdown"
    conn.on_fault("VOLTAGE_MEASUREMENT_STALE", "", False)
    assert not conn.active_faults
    answer = conn.ev_current_demand(CurrentDemand(**VALID_DEMAND))
    assert answer.status.status_code.value == "EVSE_Shutdown" and answer.status.notification.value == "StopCharging"


def test_an_error_still_active_after_the_shutdown_is_told_in_session_end():
    conn, board, group, clock, events = make()
    to_charging(conn, board, group, clock)
    conn.on_fault("PORT_OVERPOWER", "test", True)  # clears at unplug
    group.output_current_a = 0.0
    for _ in range(60):
        group.answer(clock(), 380.0, 0.0)
        board.apply_contactors()
        conn.on_io_status(board.status)
        clock.advance(0.02)
        conn.tick()
    assert conn.state == "session_end"
    answer = conn.ev_stop_session()
    assert answer.status.status_code.value == "EVSE_Shutdown"


def test_a_port_taken_out_of_service_answers_not_ready():
    conn, board, group, clock, events = plugged()
    conn.set_enabled(False)
    assert conn.state == "unavailable"
    assert conn.ev_setup("abc").status.status_code.value == "EVSE_NotReady"


# ---- the car's timeouts --------------------------------------------------------------------------------------------
def test_the_sequence_timeout_is_60_s_of_silence_exactly():
    conn, group, events = charging_with_current()
    heard = conn.last_ev_request_t
    conn.ev_requests.check_timeouts(heard + 60.0)
    assert fault_details(events, "EV_TIMEOUT") == []
    conn.ev_requests.check_timeouts(heard + 60.001)
    assert fault_details(events, "EV_TIMEOUT") == ["no request within the sequence timeout"]


@pytest.mark.parametrize("state", ["charging", "precharge"])
def test_a_car_that_does_not_stop_within_5_s_of_stop_charging_is_timed_out(state):
    conn, group, events = charging_with_current()
    conn.state = state  # the check reads the state only
    assert conn.request_stop()
    asked = conn.stop_requested_t
    conn.ev_requests.check_timeouts(asked + 5.0)
    assert fault_details(events, "EV_TIMEOUT") == []
    conn.ev_requests.check_timeouts(asked + 5.001)
    assert fault_details(events, "EV_TIMEOUT") == ["car did not stop after StopCharging"]
