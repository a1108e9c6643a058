"""The connector's transition table and IEC 61851 rules, driven with fake drivers."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.connector import Connector
from controller.connector.ev_session import CurrentDemand, EvChargeParameters, ResponseCode
from controller.connector.table import STATES, TRANSITIONS
from controller.formats.events import FaultRaised, PhaseChanged, SessionEnded
from tests.connector.fakes import FakeBoard, FakeGroup, FakeImd
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)


def make(**charging):
    wire: list[tuple] = []
    board, group, clock = FakeBoard(wire), FakeGroup(wire), FakeClock()
    events = []
    cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A")
    conn = Connector(cfg, ChargingConfig(**charging), board, group, clock=clock, wall_clock=clock,
                     on_event=events.append)
    conn.imd = FakeImd(board, clock)
    return conn, board, group, clock, events


def idle(**charging):
    """A connector whose board sent its first status: available, no car."""
    conn, board, group, clock, events = make(**charging)
    conn.on_io_status(board.status)
    conn.tick()
    return conn, board, group, clock, events


def plugged(**charging):
    """A car plugged in (CP B): the port offers 5 % and waits for the car's SessionSetupReq."""
    conn, board, group, clock, events = idle(**charging)
    cp(conn, board, "B")
    return conn, board, group, clock, events


def cp(conn, board, state, **kw):
    board.status = replace(board.status, cp_state=state, **kw)
    conn.on_io_status(board.status)


def settle(conn, board, group, clock, steps=5, dt=0.02):
    for _ in range(steps):
        board.apply_contactors()
        conn.on_io_status(board.status)
        clock.advance(dt)
        conn.tick()


def flowing(conn, board, group, clock, seconds, volts=380.0, amps=100.0, dt=0.02):
    """`seconds` of control periods with the output measured at `volts` and `amps` by the board and the modules;
    the energy the session counted meanwhile (Wh)."""
    before = conn.session.module_energy_wh if conn.session else 0.0
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        group.answer(clock(), volts, amps)
        board.measure(clock(), volts, amps)
        board.apply_contactors()
        conn.on_io_status(board.status)
        conn.tick()
    return (conn.session.module_energy_wh if conn.session else 0.0) - before


def fault_details(events, code):
    """The details of every FaultRaised `code` among the connector's events, in order."""
    return [e.detail for e in events if isinstance(e, FaultRaised) and e.code == code]


def stop_reasons(events):
    """The stop reason of every session that ended, in order."""
    return [e.stop_reason for e in events if isinstance(e, SessionEnded)]


def to_charging(conn, board, group, clock, ev_max_v=420, precharge_v=380.0):
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.state == "available"
    cp(conn, board, "B")
    assert conn.state == "plugged" and board.pwm == 5.0
    assert conn.ev_setup("abc").code == ResponseCode.OK
    assert conn.ev_authorization().processing.value == "Finished"
    ans = conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=ev_max_v, max_current_a=150))
    assert ans.charge_parameters.max_current_a == 200
    cp(conn, board, "C")
    assert conn.ev_cable_check_request().processing.value == "Ongoing"
    assert conn.state == "cable_check"
    settle(conn, board, group, clock)  # contactors close
    assert board.contactors_cmd and group.is_on
    v_test = group.setpoint[0]
    assert v_test == min(500.0, ev_max_v + 50.0)  # min(500, EV max + 50, EVSE max)
    assert group.setpoint[1] == 2.0
    board.status = replace(board.status, cable_voltage_v=v_test)
    settle(conn, board, group, clock, steps=40)  # hold while the IMD reads at test voltage
    assert not group.is_on
    board.status = replace(board.status, cable_voltage_v=10.0)
    settle(conn, board, group, clock)
    assert conn.ev_cable_check_request().processing.value == "Finished"
    ans = conn.ev_precharge_request(precharge_v, 10.0)
    assert ans.code == ResponseCode.OK and conn.state == "precharge"
    assert group.setpoint == (precharge_v, 2.0) and group.is_on
    board.status = replace(board.status, cable_voltage_v=precharge_v - 5.0)  # the modules reached the target
    assert conn.ev_power_delivery(True).code == ResponseCode.OK
    assert conn.state == "charging"


def test_table_names_only_known_states():
    for t in TRANSITIONS:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for s in sources:
            assert s == "*" or s in STATES, t
        assert t["dest"] in STATES


def test_full_session_and_ramp():
    conn, board, group, clock, events = make(ramp_up_a_per_s=100.0)
    to_charging(conn, board, group, clock)
    ans = conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=150, soc_percent=40))
    assert ans.code == ResponseCode.OK
    clock.advance(0.1)
    conn.tick()
    assert group.setpoint[1] == pytest.approx(10.0, abs=0.5)  # 100 A/s for 0.1 s
    for _ in range(30):
        clock.advance(0.1)
        conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=150))
        conn.tick()
    assert group.setpoint[1] == pytest.approx(150.0)
    # down is immediate
    conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=20))
    assert group.setpoint[1] == 20.0
    assert conn.ev_power_delivery(False).code == ResponseCode.OK
    assert conn.state == "stopping"
    settle(conn, board, group, clock)
    assert conn.state == "welding_detection" and not board.contactors_cmd and not group.is_on
    assert conn.ev_stop_session().code == ResponseCode.OK
    assert conn.state == "session_end"
    cp(conn, board, "A")
    assert conn.state == "available"
    ended = [e for e in events if isinstance(e, SessionEnded)]
    assert ended and ended[0].stop_reason == "ev_stop"


def test_power_limit_clamps_current():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    board.status = replace(board.status, cable_voltage_v=420.0)  # the battery at the EV's maximum
    ans = conn.ev_current_demand(CurrentDemand(target_voltage_v=500, target_current_a=200))
    assert ans.power_limit_reached and ans.voltage_limit_reached  # 60 kW at the EV max of 420 V
    for _ in range(100):
        clock.advance(0.1)
        conn.ev_current_demand(CurrentDemand(target_voltage_v=500, target_current_a=200))
        conn.tick()
    assert group.setpoint == (420.0, pytest.approx(60_000 / 420))


def test_c_to_b_opens_contactors_within_100ms():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    board.apply_contactors()
    conn.on_io_status(board.status)
    group.output_current_a = 100.0
    cp(conn, board, "B")
    assert conn.state == "stopping"
    assert group.setpoint[1] == 0.0  # current down first
    for _ in range(4):  # current never falls in this fake: the timeout must still open in time
        clock.advance(0.02)
        conn.tick()
    assert not board.contactors_cmd
    assert ("off",) in group.log


@pytest.mark.parametrize("code_state,fault", [("E", "CP_STATE_E"), ("F", "CP_STATE_F"), ("INVALID", "CP_INVALID")])
def test_cp_error_states_are_emergencies(code_state, fault):
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    group.log.clear()
    board.log.clear()
    cp(conn, board, code_state)
    assert conn.state == "emergency"
    assert fault in conn.active_faults
    # power cut in the same call: modules first, then contactors, CP to F
    assert group.log[0] == ("emergency_off",)
    assert ("open",) in board.log and ("state_f", True) in board.log


def test_state_d_refused_for_dc():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    cp(conn, board, "D")
    assert conn.state == "error_shutdown"
    assert "CP_STATE_D" in conn.active_faults


def test_unplug_in_every_state_leaves_power_off():
    for stop_at in ("plugged", "negotiating", "cable_check", "charging"):
        conn, board, group, clock, _ = make()
        conn.on_io_status(board.status)
        conn.tick()
        cp(conn, board, "B")
        if stop_at != "plugged":
            conn.ev_setup("x")
        if stop_at in ("cable_check", "charging"):
            conn.ev_authorization()
            conn.ev_charge_parameter_discovery(EvChargeParameters(max_voltage_v=420, max_current_a=150))
            conn.ev_cable_check_request()
        if stop_at == "charging":
            conn.machine.set_state("charging")
        group.output_current_a = 50.0 if stop_at == "charging" else 0.0
        cp(conn, board, "A")
        assert not board.contactors_cmd and not group.is_on
        if stop_at == "charging":
            assert "UNPLUGGED_UNDER_LOAD" not in conn.active_faults  # cleared by the unplug itself
            assert any(f.code == "UNPLUGGED_UNDER_LOAD" for f in conn.fault_history)
        settle(conn, board, group, clock, steps=20)  # CP F is held a moment after an emergency
        assert conn.state == "available", stop_at


def test_sequence_error_is_refused():
    conn, board, group, clock, _ = make()
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    conn.ev_setup("x")
    ans = conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=10))
    assert ans.code == ResponseCode.FAILED_SEQUENCE_ERROR
    assert conn.state == "error_shutdown"


def test_estop_stays_latched_until_released_and_cleared():
    conn, board, group, clock, _ = make(emergency_f_hold_s=0.1)
    to_charging(conn, board, group, clock)
    conn.on_fault("ESTOP_PRESSED", "button", True)
    assert conn.state == "emergency"
    cp(conn, board, "A")
    settle(conn, board, group, clock, steps=10)
    assert conn.clear_latched() == []  # still pressed: clearing does nothing
    conn.on_fault("ESTOP_PRESSED", "", False)  # released
    settle(conn, board, group, clock, steps=10)
    assert conn.state == "emergency" and "ESTOP_PRESSED" in conn.active_faults
    assert conn.clear_latched() == ["ESTOP_PRESSED"]
    settle(conn, board, group, clock, steps=10)
    assert conn.state == "available"


def test_latched_fault_survives_unplug_until_cleared():
    conn, board, group, clock, _ = make(emergency_f_hold_s=0.1)
    to_charging(conn, board, group, clock)
    conn.raise_fault("MODULE_OVERVOLTAGE", "module 1")
    cp(conn, board, "A")
    settle(conn, board, group, clock, steps=10)
    assert conn.state == "emergency"
    assert conn.clear_latched() == ["MODULE_OVERVOLTAGE"]
    settle(conn, board, group, clock, steps=10)
    assert conn.state == "available"


def test_user_stop_asks_car_then_times_out():
    conn, board, group, clock, _ = make()
    to_charging(conn, board, group, clock)
    assert conn.request_stop()
    ans = conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=10))
    assert ans.status.notification.value == "StopCharging"
    for _ in range(300):  # the car ignores it
        conn.ev_current_demand(CurrentDemand(target_voltage_v=400, target_current_a=10))
        settle(conn, board, group, clock, steps=1)
    assert conn.state in ("error_shutdown", "session_end")
    assert "EV_TIMEOUT" in conn.active_faults


def _make_with(**cfg_changes):
    board, group, clock = FakeBoard(), FakeGroup(), FakeClock()
    cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A",
                          **cfg_changes)
    conn = Connector(cfg, ChargingConfig(), board, group, clock=clock, wall_clock=clock)
    conn.imd = FakeImd(board, clock)
    return conn, board, group, clock


@pytest.mark.parametrize("policy,expected", [("stop", "error_shutdown"), ("continue", "charging")])
def test_meter_loss_policy(policy, expected):
    conn, board, group, clock = _make_with(on_meter_loss=policy)
    to_charging(conn, board, group, clock)
    conn.on_fault("METER_LOST", "no answer", True)
    assert conn.state == expected
    assert conn.active_faults["METER_LOST"].severity == ("warning" if policy == "continue" else "error")


def test_failed_slac_restarts_with_cp_f_then_gives_up():
    conn, board, group, clock, events = make(communication_restart_f_s=4.0, communication_attempts=2)
    conn.on_io_status(board.status)
    conn.tick()
    cp(conn, board, "B")
    assert conn.state == "plugged" and board.pwm == 5.0
    assert conn.restart_communication("SLAC failed: no CM_SLAC_PARM.REQ")
    assert board.state_f
    cp(conn, board, "F")  # the board shows what we asked for: no fault
    assert not conn.active_faults
    clock.advance(4.1)
    conn.tick()  # late: skipped once, as after a stall
    conn.tick()
    cp(conn, board, "B")
    assert not board.state_f and board.pwm == 5.0
    assert [e.state for e in events if isinstance(e, PhaseChanged)].count("plugged") == 2  # the link layer starts again
    assert not conn.restart_communication("SLAC failed again")
    assert "COMMUNICATION_FAILED" in conn.active_faults and board.pwm == 100.0
    cp(conn, board, "A")
    settle(conn, board, group, clock)
    assert conn.state == "available" and not conn.active_faults


def test_blocking_fault_without_a_car_takes_the_port_out_of_service_until_it_clears():
    conn, board, group, clock, events = make()
    conn.on_io_status(board.status)
    conn.tick()
    assert conn.state == "available"
    conn.on_fault("METER_LOST", "no answer", True)
    assert conn.state == "unavailable"
    conn.tick()
    assert conn.state == "unavailable"  # still blocked
    conn.on_fault("METER_LOST", "", False)
    conn.tick()
    assert conn.state == "available"
