"""The real Connector with its SafetySupervisor, driven through fake drivers: what the car hears and what goes
on the wires when a measurement leaves its limits. One test per finding of issue 13 that the supervisor owns."""
from __future__ import annotations

import pytest

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.connector import Connector
from controller.connector.ev_session import IsolationLevel
from controller.faults import Fault
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)


def make(**charging):
    wire: list[tuple] = []  # board and module commands in the order they go out
    board, group, clock = FakeBoard(wire), FakeGroup(wire), FakeClock()
    events = []
    cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60, group="A")
    conn = Connector(cfg, ChargingConfig(**charging), board, group, clock=clock, wall_clock=clock,
                     on_event=events.append)
    return conn, board, group, clock, events


@pytest.mark.parametrize("state", ["precharge", "charging"])
def test_an_isolation_warning_is_reported_to_the_car_as_warning_not_valid(state):
    conn, *_ = make()
    conn.machine.set_state(state, model=conn)
    assert conn.evse_status().isolation == IsolationLevel.VALID
    conn.active_faults["ISOLATION_WARNING"] = Fault("ISOLATION_WARNING", 1, "400 kohm", 0.0)
    assert conn.evse_status().isolation == IsolationLevel.WARNING


# ---- a connector charging, its measurements arriving like the board's frames ------------------------------------

from dataclasses import dataclass  # noqa: E402

from controller.connector.ev_session import CurrentDemand, EvChargeParameters  # noqa: E402

PERIOD = 0.02  # the I/O board's DC measure period


@dataclass(frozen=True)
class BoardStatus:
    """What the I/O board driver reports (the fields of controller.hw.io_board.IoStatus the connector reads)."""
    t: float
    measure_t: float
    temps_t: float | None
    cp_state: str = "C"
    cp_high_v: float = 6.0
    dc_plus_closed: bool = True
    dc_minus_closed: bool = True
    lock_state: str = "LOCKED"
    estop: bool = False
    cable_voltage_v: float = 0.0
    cable_current_a: float = 0.0
    temp_dc_plus_c: float | None = 30.0
    temp_dc_minus_c: float | None = 30.0
    temp_cable_c: float | None = 30.0


def live(ev_max_v=420.0, ev_max_a=150.0, volts=400.0, amps=100.0):
    """A connector in `charging` with a session: contactors closed, modules on at (volts, amps) as the car's
    CurrentDemand asks (repeated by `step`)."""
    conn, board, group, clock, events = make(ramp_up_a_per_s=10_000.0)
    board.status = BoardStatus(t=clock(), measure_t=clock(), temps_t=clock(), cable_voltage_v=volts,
                               cable_current_a=amps)
    conn.on_io_status(board.status)
    conn.ev_parameters = EvChargeParameters(max_voltage_v=ev_max_v, max_current_a=ev_max_a)
    conn._start_session()
    conn.machine.set_state("charging", model=conn)
    conn.last_ev_request_t = clock()
    group.is_on = True
    board.contactors_cmd = True
    conn._contactors_commanded = True
    conn.test_demand = CurrentDemand(target_voltage_v=min(ev_max_v, volts + 10.0), target_current_a=amps)
    conn.ev_current_demand(conn.test_demand)
    conn.tick()
    clock.advance(0.1)
    conn.tick()  # the ramp reaches the demand
    assert group.setpoint[1] == pytest.approx(amps) and conn.state == "charging"
    return conn, board, group, clock, events


def step(conn, board, clock, volts, amps=0.0, dt=PERIOD):
    """One DC measure frame, the car's CurrentDemand, then the control tick."""
    clock.advance(dt)
    board.measure(clock(), volts, amps)
    conn.ev_current_demand(conn.test_demand)
    conn.tick()


def current_down(group) -> bool:
    return not group.is_on or group.setpoint[1] == 0.0


def test_finding_2_output_overvoltage_above_the_ev_maximum_stops_after_400_ms():
    conn, board, group, clock, _ = live(ev_max_v=420.0)
    for _ in range(50):
        step(conn, board, clock, 430.0, 100.0)  # 420 V + 10 V margin: in range
    assert conn.state == "charging" and not current_down(group)
    first = clock()
    while not current_down(group):
        assert clock() - first < 2.0, "480 V on a 420 V car and charging goes on"
        step(conn, board, clock, 480.0, 100.0)
    assert 0.4 - 1e-6 <= clock() - first <= 0.4 + 2 * PERIOD  # error shutdown: current to zero at the 400 ms bound
    assert "OUTPUT_OVERVOLTAGE" in conn.active_faults
    assert conn.state in ("error_shutdown", "session_end", "emergency")
    assert conn.evse_status().notification.name == "STOP_CHARGING"  # the car hears about it


def test_finding_2_voltage_class_limit_is_an_emergency_inside_the_measure_frame():
    conn, board, group, clock, _ = live(ev_max_v=420.0)
    step(conn, board, clock, 550.0, 100.0)  # the 500 V class limit itself
    assert conn.state == "charging"
    board.wire.clear()
    clock.advance(PERIOD)
    board.measure(clock(), 550.1, 100.0)  # no tick: the reaction is in the frame's own call
    assert ("group", "emergency_off") in board.wire and ("board", "open") in board.wire
    assert board.wire.index(("group", "emergency_off")) < board.wire.index(("board", "open"))
    assert conn.state == "emergency" and "VOLTAGE_CLASS_EXCEEDED" in conn.active_faults


def test_finding_2_measured_overcurrent_stops_charging():
    conn, board, group, clock, _ = live(ev_max_a=150.0, amps=100.0)
    for _ in range(50):
        step(conn, board, clock, 400.0, 110.0)  # command 100 A + 10 A margin: in range
    assert conn.state == "charging"
    first = clock()
    while not current_down(group):
        assert clock() - first < 2.0, "180 A measured against a 100 A command and charging goes on"
        step(conn, board, clock, 400.0, 180.0)
    assert 0.5 - 1e-6 <= clock() - first <= 0.5 + 2 * PERIOD
    assert "OUTPUT_OVERCURRENT" in conn.active_faults


def test_finding_10_a_dc_measure_that_stops_arriving_stops_charging():
    conn, board, group, clock, _ = live()
    for _ in range(10):
        step(conn, board, clock, 400.0, 100.0)
    last = clock()
    while not current_down(group):
        assert clock() - last < 1.0, "no DC measure for a second and charging goes on"
        clock.advance(0.01)
        conn.ev_current_demand(conn.test_demand)
        conn.tick()
    assert clock() - last <= 0.2 + 0.02
    assert "VOLTAGE_MEASUREMENT_STALE" in conn.active_faults
    assert not conn.supervisor.may_energize()


def test_finding_10_a_voltage_sensor_stuck_at_zero_disagrees_with_the_modules():
    conn, board, group, clock, _ = live()
    first = None
    for _ in range(20):  # 4 s: the board reads 0 V, the modules 400 V
        clock.advance(0.2)
        board.measure(clock(), 0.0, 100.0)
        group.answer(clock(), 400.0, 100.0)
        first = first or clock()
        conn.ev_current_demand(conn.test_demand)
        conn.tick()
        if current_down(group):
            break
    assert "VOLTAGE_MEASUREMENT_MISMATCH" in conn.active_faults
    assert clock() - first <= 2.0 + 0.2


def test_finding_14_a_missing_temperature_is_a_sensor_fault_not_cold():
    conn, board, group, clock, _ = live()
    clock.advance(1.0)
    board.temperatures(clock(), None)
    assert "TEMPERATURE_SENSOR_FAULT" in conn.active_faults
    step(conn, board, clock, 400.0, 100.0)
    assert current_down(group) and conn.state != "charging"


def test_finding_14_temperatures_that_stop_arriving_stop_charging():
    conn, board, group, clock, _ = live()
    start = board.status.temps_t  # the last temperature frame
    while not current_down(group):
        assert clock() - start < 5.0, "no temperature for 5 s and charging goes on"
        step(conn, board, clock, 400.0, 100.0, dt=0.05)
    assert 3.5 - 1e-6 <= clock() - start <= 3.5 + 0.1
    assert "TEMPERATURE_SENSOR_FAULT" in conn.active_faults


def test_finding_14_power_is_derated_before_the_90_degree_trip():
    conn, board, group, clock, _ = live(ev_max_a=200.0)
    clock.advance(1.0)
    board.temperatures(clock(), 30.0)
    conn.ev_current_demand(CurrentDemand(target_voltage_v=410.0, target_current_a=200.0))
    assert conn.charge_control.target_current_a == pytest.approx(150.0)  # 60 kW at 400 V
    clock.advance(1.0)
    board.temperatures(clock(), 80.0)  # half way from 70 to 90 degC
    conn.ev_current_demand(CurrentDemand(target_voltage_v=410.0, target_current_a=200.0))
    assert group.setpoint[1] <= 75.0 + 1e-6  # 30 kW at 400 V, applied at once (down is immediate)
    assert conn.state == "charging"
    assert "POWER_DERATED" in conn.active_faults and conn.active_faults["POWER_DERATED"].severity == "warning"


def test_finding_14_hot_modules_derate_too():
    conn, board, group, clock, _ = live(ev_max_a=200.0)
    group.hottest_module_c = 85.0  # half way from 75 to 95 degC
    conn.ev_current_demand(CurrentDemand(target_voltage_v=410.0, target_current_a=200.0))
    assert group.setpoint[1] <= 75.0 + 1e-6


def test_finding_16_the_session_peak_never_multiplies_a_fresh_voltage_by_a_stale_current():
    """The nevi ev-stop peak of 178 kW on a 150 kW port: the car opened its contactors, the cable voltage rose
    to the modules' 820 V reference, and the modules' last current answer (217.6 A, 0.5 s poll) was still there."""
    conn, board, group, clock, events = live(ev_max_v=500.0, volts=400.0, amps=140.0)
    group.output_current_a = 140.0
    for _ in range(10):
        step(conn, board, clock, 400.0, 140.0)
    assert conn.session.peak_w == pytest.approx(56_000.0)
    for _ in range(10):  # the car's contactors are open: full voltage, no current; telemetry still says 140 A
        step(conn, board, clock, 500.0, 0.0)
    assert conn.session.peak_w <= 60_000.0
    assert conn.snapshot()["power_kw"] <= 60.0


def test_finding_16_measured_power_above_the_port_limit_lowers_the_setpoint():
    conn, board, group, clock, _ = live(ev_max_a=200.0, amps=150.0)
    step(conn, board, clock, 400.0, 160.0)  # 64 kW measured on a 60 kW port
    conn.ev_current_demand(CurrentDemand(target_voltage_v=410.0, target_current_a=200.0))
    assert group.setpoint[1] <= 60_000.0 * 60 / 64 / 400.0 + 1e-6  # lowered by the overshoot
    assert conn.state == "charging"


def test_finding_16_measured_power_far_above_the_port_limit_is_an_error_shutdown():
    conn, board, group, clock, _ = live(ev_max_v=500.0, ev_max_a=200.0, volts=400.0, amps=150.0)
    first = clock() + PERIOD
    while not current_down(group):
        assert clock() - first < 2.0
        step(conn, board, clock, 470.0, 150.0)  # 70.5 kW: the voltage rose, the modules do not follow
    assert 1.0 - 1e-6 <= clock() - first <= 1.0 + 2 * PERIOD
    assert "PORT_OVERPOWER" in conn.active_faults


def test_no_energizing_while_the_supervisor_refuses_whatever_the_car_asks():
    conn, board, group, clock, _ = make()
    board.status = BoardStatus(t=clock(), measure_t=clock(), temps_t=clock(), cable_voltage_v=0.0)
    conn.on_io_status(board.status)
    conn.ev_parameters = EvChargeParameters(max_voltage_v=420.0, max_current_a=150.0)
    conn._start_session()
    conn.machine.set_state("precharge", model=conn)
    conn.charge_control.start_precharge()
    clock.advance(0.25)  # the DC measure went silent 250 ms ago
    board.wire.clear()
    answer = conn.ev_precharge_request(380.0, 2.0)
    assert ("group", "on") not in board.wire
    # the refusal says why: its fault code (an error: this session ends), and the car hears a shutdown
    assert "VOLTAGE_MEASUREMENT_STALE" in conn.active_faults and conn.state == "error_shutdown"
    assert answer.status.notification.value != "None"
    board.measure(clock(), 0.0)  # fresh again: the fault clears by itself, this session stays over
    assert "VOLTAGE_MEASUREMENT_STALE" not in conn.active_faults
    conn.ev_precharge_request(380.0, 2.0)
    assert ("group", "on") not in board.wire


def precharge_refused_with(board_status, conn, board, clock):
    board.status = board_status
    conn.on_io_status(board.status)
    conn.ev_parameters = EvChargeParameters(max_voltage_v=420.0, max_current_a=150.0)
    conn._start_session()
    conn.machine.set_state("precharge", model=conn)
    conn.charge_control.start_precharge()
    board.wire.clear()
    return conn.ev_precharge_request(380.0, 2.0)


def test_a_car_before_the_boards_first_temperature_frame_is_refused_without_a_fault():
    conn, board, group, clock, _ = make()
    precharge_refused_with(BoardStatus(t=clock(), measure_t=clock(), temps_t=None, cable_voltage_v=0.0),
                           conn, board, clock)
    # the first 1 Hz temperature frame is still on its way: no power, and no fault that would end the session
    assert ("group", "on") not in board.wire
    assert "TEMPERATURE_SENSOR_FAULT" not in conn.active_faults and conn.state == "precharge"


def test_temperatures_that_never_come_are_a_fault_once_the_board_had_its_period():
    conn, board, group, clock, _ = make()
    precharge_refused_with(BoardStatus(t=clock(), measure_t=clock(), temps_t=None, cable_voltage_v=0.0),
                           conn, board, clock)
    conn.supervisor.tick(clock())  # the control tick's first look at the board: "never received" counts from here
    for _ in range(int(4.0 / PERIOD)):  # past temperature_stale_s (3.5 s), the DC measure fresh throughout
        clock.advance(PERIOD)
        board.measure(clock(), 0.0)
    conn.ev_precharge_request(380.0, 2.0)
    assert "TEMPERATURE_SENSOR_FAULT" in conn.active_faults
    assert ("group", "on") not in board.wire
