"""SafetySupervisor on its own: every threshold just either side, time filters by sample time and count, what
it reports (code, when) and what it permits. A small host stands in for the connector."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.formats.cabinet.config import ChargingConfig, ConnectorConfig
from controller.connector.ev_session import EvChargeParameters
from controller.connector.safety_supervisor import SafetySupervisor
from controller.connector.voltage_class import emergency_limit_v
from controller.faults import CATALOGUE, Fault
from controller.hw.io_board import IoStatus
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)

PERIOD = 0.02  # the I/O board's DC measure period


class Host:
    """What the supervisor reads from and reports to: the connector's limits, drivers and fault table."""

    def __init__(self, ev_max_v=420.0, ev_max_a=150.0, **charging):
        self.cfg = ConnectorConfig(id=1, type="CCS1", max_voltage_v=500, max_current_a=200, max_power_kw=60,
                                   group="A")
        self.charging = ChargingConfig(**charging)
        self.clock = FakeClock()
        self.io = FakeBoard()
        self.io.status = IoStatus(
            cp_state="C", cp_high_v=6.0, cp_low_v=-12.0, proximity="CONNECTED", dc_plus_closed=True,
            dc_minus_closed=True, lock_state="LOCKED", estop=False, watchdog_tripped=False, heartbeat_echo=0,
            cp_duty_measured=5.0, cable_voltage_v=0.0, temp_dc_plus_c=30.0, temp_dc_minus_c=30.0,
            temp_cable_c=30.0, t=self.clock(), cable_current_a=0.0, measure_t=self.clock(), temps_t=self.clock())
        self.group = FakeGroup()
        self.ev_parameters = EvChargeParameters(max_voltage_v=ev_max_v, max_current_a=ev_max_a)
        self.state = "charging"
        self.test_voltage_v = 0.0
        self.active_faults: dict[str, Fault] = {}
        self.reports: list[tuple[float, str, bool]] = []
        self.supervisor = SafetySupervisor(self)

    def cable_check_test_voltage_v(self):
        return self.test_voltage_v

    def on_fault(self, code, detail, active):
        assert detail
        self.reports.append((self.clock(), code, active))
        if active:
            self.active_faults.setdefault(code, Fault(code, 1, detail, self.clock()))
        elif CATALOGUE[code].clears != "latched":
            self.active_faults.pop(code, None)

    def raised(self) -> list[str]:
        return [code for _, code, active in self.reports if active]

    def measure(self, volts, amps=0.0, dt=PERIOD):
        """One IoDcMeasure frame `dt` after the previous one."""
        self.clock.advance(dt)
        self.io.status = replace(self.io.status, cable_voltage_v=volts, cable_current_a=amps, measure_t=self.clock())
        self.supervisor.check_io(self.io.status)

    def temps(self, plus, minus=30.0, cable=30.0, dt=1.0):
        self.clock.advance(dt)
        self.io.status = replace(self.io.status, temp_dc_plus_c=plus, temp_dc_minus_c=minus, temp_cable_c=cable,
                                 temps_t=self.clock())
        self.supervisor.check_io(self.io.status)

    def module_answer(self, volts, dt=0.2):
        self.clock.advance(dt)
        self.group.output_voltage_v = volts
        self.group.voltage_t = self.clock()
        self.io.status = replace(self.io.status, measure_t=self.clock())  # the board keeps measuring
        self.supervisor.check_modules()


# ---- voltage --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("max_v, limit", [(400, 550), (500, 550), (500.1, 825), (750, 825), (750.1, 935),
                                          (850, 935), (1000, 1100), (1000.1, 1375), (1250, 1375), (1500, 1375)])
def test_voltage_class_limits(max_v, limit):
    assert emergency_limit_v(max_v) == limit


def test_class_limit_is_an_emergency_on_the_first_sample_above():
    host = Host(ev_max_v=420.0)  # 500 V class: 550 V
    host.measure(550.0)
    assert host.raised() == []
    host.measure(550.1)
    assert host.raised() == ["VOLTAGE_CLASS_EXCEEDED"]  # this very frame: no time filter
    assert CATALOGUE["VOLTAGE_CLASS_EXCEEDED"].severity == "emergency"


def test_class_follows_the_cable_when_the_car_allows_more():
    host = Host(ev_max_v=820.0)  # cable 500 V: still the 500 V class
    host.measure(550.1)
    assert "VOLTAGE_CLASS_EXCEEDED" in host.raised()


def test_overvoltage_against_the_session_max_trips_after_400_ms_of_samples():
    host = Host(ev_max_v=420.0)  # min(420, cable 500) + 10 V margin = 430 V
    for _ in range(100):
        host.measure(430.0)
    assert host.raised() == []
    host.measure(430.1)
    first = host.clock()
    while not host.raised():
        assert host.clock() - first < 0.5, "no OUTPUT_OVERVOLTAGE within 0.5 s"
        host.measure(430.1)
    assert host.raised() == ["OUTPUT_OVERVOLTAGE"]
    assert host.reports[0][0] - first == pytest.approx(0.4, abs=1e-6)
    assert CATALOGUE["OUTPUT_OVERVOLTAGE"].severity == "error"


def test_overvoltage_filter_restarts_when_a_sample_is_back_in_range():
    host = Host(ev_max_v=420.0)
    for _ in range(19):  # 0.36 s above
        host.measure(480.0)
    host.measure(420.0)
    for _ in range(19):
        host.measure(480.0)
    assert host.raised() == []


def test_a_stalled_loop_does_not_turn_two_samples_into_a_trip():
    host = Host(ev_max_v=420.0)
    host.measure(480.0)
    host.measure(480.0, dt=0.5)  # the loop stood still for half a second between two frames
    assert host.raised() == []
    host.measure(480.0)  # the third sample, 0.52 s after the first: a real over-voltage
    assert host.raised() == ["OUTPUT_OVERVOLTAGE"]


def test_cable_check_may_hold_its_test_voltage_but_charging_may_not():
    host = Host(ev_max_v=420.0)
    host.state, host.test_voltage_v = "cable_check", 470.0
    for _ in range(50):
        host.measure(480.0)  # test voltage + 10 V margin
    assert host.raised() == []
    for _ in range(25):
        host.measure(480.1)
    assert host.raised() == ["OUTPUT_OVERVOLTAGE"]
    host = Host(ev_max_v=420.0)
    host.state, host.test_voltage_v = "cable_check", 470.0
    for _ in range(50):
        host.measure(475.0)
    assert host.raised() == []
    host.state = "charging"
    for _ in range(25):
        host.measure(475.0)
    assert host.raised() == ["OUTPUT_OVERVOLTAGE"]


def test_each_sample_counts_once():
    host = Host(ev_max_v=420.0)
    host.measure(480.0)
    for _ in range(50):  # status frames re-deliver the same DC measure: no new sample
        host.clock.advance(0.02)
        host.supervisor.check_io(host.io.status)
    assert host.raised() == []


# ---- current and power ----------------------------------------------------------------------------------------

def charging_at(host, volts, amps):
    host.group.is_on = True
    host.group.setpoint = (volts, amps)


def test_overcurrent_against_the_command_boundary_and_time():
    host = Host(ev_max_a=150.0)
    charging_at(host, 400.0, 100.0)  # margin max(10 A, 5 %) = 10 A
    for _ in range(60):
        host.measure(400.0, 110.0)
    assert host.raised() == []
    host.measure(400.0, 110.1)
    first = host.clock()
    while not host.raised():
        assert host.clock() - first < 0.6
        host.measure(400.0, 110.1)
    assert host.raised() == ["OUTPUT_OVERCURRENT"]
    assert host.reports[0][0] - first == pytest.approx(0.5, abs=1e-6)


def test_overcurrent_against_the_ev_maximum_whatever_the_command():
    host = Host(ev_max_a=150.0)
    charging_at(host, 400.0, 190.0)  # a command above the car's maximum does not widen the limit
    for _ in range(30):
        host.measure(400.0, 160.1)
    assert host.raised() == ["OUTPUT_OVERCURRENT"]


def test_a_lower_command_gets_time_to_take_effect():
    host = Host(ev_max_a=150.0)
    charging_at(host, 400.0, 100.0)
    host.measure(400.0, 100.0)
    host.group.setpoint = (400.0, 20.0)
    drop = host.clock()
    while host.clock() - drop < 0.5:  # the modules follow within half a second: no trip
        host.measure(400.0, 100.0)
    host.measure(400.0, 20.0)
    assert host.raised() == []
    host.group.setpoint = (400.0, 100.0)
    host.measure(400.0, 100.0)
    host.group.setpoint = (400.0, 20.0)
    drop = host.clock()
    while not host.raised():  # this time the current stays: over once the follow time and the filter ran out
        assert host.clock() - drop < 1.2
        host.measure(400.0, 100.0)
    assert 1.0 <= host.clock() - drop <= 1.15


def test_current_with_the_modules_off_is_over_the_margin():
    host = Host()
    for _ in range(30):
        host.measure(400.0, 10.0)  # modules off: 10 A is the margin itself
    assert host.raised() == []
    for _ in range(30):
        host.measure(400.0, 10.1)
    assert host.raised() == ["OUTPUT_OVERCURRENT"]


def test_measured_power_above_the_port_limit_lowers_the_power_limit():
    host = Host()
    charging_at(host, 400.0, 150.0)
    host.measure(400.0, 154.5)  # 61.8 kW = 60 kW + 3 %: not yet
    assert host.supervisor.derated_power_limit_w() == 60_000.0
    host.measure(400.0, 160.0)  # 64 kW
    assert host.supervisor.derated_power_limit_w() == pytest.approx(60_000.0 * 60 / 64)
    for _ in range(50):  # back at the limit: the correction relaxes slowly (2 % per second)
        host.measure(400.0, 140.0)
    assert host.supervisor.derated_power_limit_w() == pytest.approx(60_000.0 * (60 / 64 + 0.02 * 50 * PERIOD))
    assert host.raised() == []


def test_measured_power_far_above_the_port_limit_is_an_error_after_a_second():
    host = Host(ev_max_a=300.0)
    host.cfg = replace(host.cfg, max_current_a=300)
    charging_at(host, 400.0, 200.0)
    for _ in range(100):
        host.measure(400.0, 172.5)  # 69 kW = 60 kW + 15 %
    assert "PORT_OVERPOWER" not in host.raised()
    host.measure(400.0, 172.6)
    first = host.clock()
    while "PORT_OVERPOWER" not in host.raised():
        assert host.clock() - first < 1.1
        host.measure(400.0, 172.6)
    assert host.clock() - first == pytest.approx(1.0, abs=1e-6)


# ---- measurement age and cross-check ---------------------------------------------------------------------------

def run_ticks(host, seconds, dt=0.01):
    end = host.clock() + seconds
    while host.clock() < end - 1e-9:
        host.clock.advance(dt)
        host.supervisor.tick(host.clock())


def test_a_dc_measure_that_stops_is_stale_after_200_ms_while_energized():
    host = Host()
    host.measure(400.0)
    last = host.clock()
    run_ticks(host, 0.2)
    assert host.raised() == []
    run_ticks(host, 0.02)
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]
    assert host.reports[0][0] - last <= 0.22
    assert not host.supervisor.may_energize()
    host.measure(400.0)  # fresh again: the fault clears by itself
    assert host.reports[-1][1:] == ("VOLTAGE_MEASUREMENT_STALE", False)


def test_a_stall_of_the_loop_is_not_a_stale_measurement():
    host = Host()
    host.measure(400.0)
    run_ticks(host, 0.05)
    host.clock.advance(0.5)  # no tick and no frame handled for half a second
    host.supervisor.tick(host.clock())
    host.measure(400.0, dt=0.001)  # the queued frames are handled next
    run_ticks(host, 0.1)
    assert host.raised() == []


def test_a_refusal_right_after_a_stall_refuses_but_waits_for_the_queue_before_it_is_a_fault():
    """The cable check asks to energize on the first tick after a 0.3 s stall: the board's frames of that time
    still wait in the receive queue. No energy (refused), and no fault until the loop has caught up."""
    host = Host()
    host.state = "cable_check"
    host.measure(400.0)
    run_ticks(host, 0.05)
    host.clock.advance(0.3)
    host.supervisor.tick(host.clock())  # the first tick after the stall
    assert not host.supervisor.may_energize()
    host.supervisor.report_refusal()
    assert host.raised() == []
    host.measure(400.0, dt=0.001)  # the queued frame is handled
    assert host.supervisor.may_energize()


def test_a_board_silent_after_a_stall_is_a_fault_on_the_next_steady_tick():
    host = Host()
    host.state = "cable_check"
    host.measure(400.0)
    run_ticks(host, 0.05)
    host.clock.advance(0.3)
    host.supervisor.tick(host.clock())
    resumed = host.clock()
    host.supervisor.report_refusal()
    assert host.raised() == []
    run_ticks(host, 0.01)
    host.supervisor.report_refusal()  # the cable check asks on every tick
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]
    assert host.reports[0][0] - resumed <= 0.011


def test_a_refusal_far_past_the_bound_is_a_fault_even_right_after_a_stall():
    host = Host()
    host.state = "cable_check"
    host.measure(400.0)
    run_ticks(host, 0.05)
    host.clock.advance(1.1)  # five bounds and more: no queue holds that much, the board is silent
    host.supervisor.tick(host.clock())
    host.supervisor.report_refusal()
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]


def test_staleness_matters_while_a_car_is_plugged_not_without_one():
    host = Host()
    host.state = "available"
    run_ticks(host, 2.0)
    assert host.raised() == []
    assert not host.supervisor.may_energize()  # but it still refuses to energize
    host.state = "session_end"  # a car plugged after a quick stop: the unlock and the next session depend on it
    run_ticks(host, 0.05)
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]


def test_board_and_modules_disagreeing_for_two_seconds_is_a_mismatch():
    host = Host()
    host.group.is_on = True
    host.io.status = replace(host.io.status, cable_voltage_v=400.0)
    for _ in range(20):
        host.module_answer(430.0)  # 30 V (max(30 V, 5 % of 430 V)): tolerated
    assert host.raised() == []
    for _ in range(20):
        host.module_answer(430.1)  # 30.1 V: a difference that lasts 2 s is a mismatch
    assert host.raised() == ["VOLTAGE_MEASUREMENT_MISMATCH"]
    host = Host()
    host.group.is_on = True
    host.io.status = replace(host.io.status, cable_voltage_v=0.0)  # stuck at 0 V with 400 V on the cable
    host.module_answer(400.0)
    first = host.clock()
    while not host.raised():
        assert host.clock() - first < 2.2
        host.module_answer(400.0)
    assert host.raised() == ["VOLTAGE_MEASUREMENT_MISMATCH"]
    assert host.clock() - first == pytest.approx(2.0, abs=1e-6)


def test_no_cross_check_with_the_contactors_open_or_the_modules_off():
    host = Host()
    host.io.status = replace(host.io.status, cable_voltage_v=0.0)
    for _ in range(20):
        host.module_answer(400.0)  # modules off
    host.group.is_on = True
    host.io.status = replace(host.io.status, dc_plus_closed=False)
    for _ in range(20):
        host.module_answer(400.0)
    assert host.raised() == []


# ---- temperatures -----------------------------------------------------------------------------------------------

def test_temperature_derating_is_linear_from_70_to_90_degrees():
    host = Host()
    host.temps(70.0)
    assert host.supervisor.derated_power_limit_w() == 60_000.0
    assert host.raised() == []
    host.temps(70.1)
    assert host.supervisor.derated_power_limit_w() == pytest.approx(60_000.0 * 19.9 / 20)
    assert host.raised() == ["POWER_DERATED"] and CATALOGUE["POWER_DERATED"].severity == "warning"
    host.temps(30.0, cable=80.0)
    assert host.supervisor.derated_power_limit_w() == pytest.approx(30_000.0)
    host.temps(30.0, minus=90.0)
    assert host.supervisor.derated_power_limit_w() == 0.0
    host.temps(68.1)  # the warning stays until 2 degC below the start, the power is full again at once
    assert host.supervisor.derated_power_limit_w() == 60_000.0
    assert "POWER_DERATED" in host.active_faults
    host.temps(67.9)
    assert "POWER_DERATED" not in host.active_faults


@pytest.mark.parametrize("reading", [None, -40.1, 200.1])
def test_a_missing_or_implausible_temperature_is_a_sensor_fault_not_cold(reading):
    host = Host()
    host.temps(reading)
    assert host.raised() == ["TEMPERATURE_SENSOR_FAULT"]
    assert CATALOGUE["TEMPERATURE_SENSOR_FAULT"].severity == "error"
    assert not host.supervisor.may_energize()


def test_temperatures_that_stop_arriving_are_a_sensor_fault():
    host = Host()
    host.temps(30.0)
    for _ in range(70):  # 3.5 s of DC measures and ticks, no temperature frame
        host.measure(400.0, dt=0.05)
        host.supervisor.tick(host.clock())
    assert host.raised() == []
    host.measure(400.0, dt=0.05)
    host.supervisor.tick(host.clock())
    assert host.raised() == ["TEMPERATURE_SENSOR_FAULT"]


def test_the_connector_derating_alone_is_what_a_matrix_cabinet_gives_the_allocator():
    host = Host()
    assert host.supervisor.connector_derating() == 1.0  # nothing measured yet
    host.temps(80.0)  # halfway from 70 to 90 degC
    host.group.hottest_module_c = 85.0  # the modules' own derating is not the connector's
    assert host.supervisor.connector_derating() == pytest.approx(0.5)
    assert host.supervisor.derated_power_limit_w() == pytest.approx(60_000.0 * 0.5 * 0.5)
    host.temps(95.0)
    assert host.supervisor.connector_derating() == 0.0


def test_module_temperature_derates_too():
    host = Host()
    host.temps(30.0)
    host.group.hottest_module_c = 85.0  # 75..95 degC
    assert host.supervisor.derated_power_limit_w() == pytest.approx(30_000.0)


# ---- permission ---------------------------------------------------------------------------------------------------

def test_permission_to_energize():
    host = Host()
    host.measure(0.0)
    host.temps(30.0, dt=0.0)
    assert host.supervisor.may_energize() and host.supervisor.refusal() == ""
    host.active_faults["ISOLATION_WARNING"] = Fault("ISOLATION_WARNING", 1, "w", 0.0)
    assert host.supervisor.may_energize()  # a warning does not block
    host.active_faults["CONNECTOR_OVERTEMPERATURE"] = Fault("CONNECTOR_OVERTEMPERATURE", 1, "hot", 0.0)
    assert not host.supervisor.may_energize()
    assert "CONNECTOR_OVERTEMPERATURE" in host.supervisor.refusal()
    del host.active_faults["CONNECTOR_OVERTEMPERATURE"]
    host.io.online = False
    assert not host.supervisor.may_energize()
    host.io.online = True
    host.clock.advance(0.21)
    assert "stale" in host.supervisor.refusal()


def test_output_sample_never_mixes_a_fresh_voltage_with_a_stale_current():
    host = Host()
    host.measure(820.0, 0.0)  # the car opened its contactors: full voltage, no current
    host.group.output_voltage_v, host.group.output_current_a = 820.0, 217.6  # modules' last (old) answer
    assert host.supervisor.output_sample() == (820.0, 0.0)
    host.clock.advance(0.3)  # board measure stale: the modules' own power over their voltage
    host.group.output_power_w = 820.0 * 10.0
    assert host.supervisor.output_sample() == (820.0, pytest.approx(10.0))


def test_temperatures_never_received_count_from_the_first_sight_of_the_board():
    """The rig and a fresh start bring the car before the first 1 Hz temperature frame: energizing waits for it,
    and only a board that stays silent on temperatures for the stale time is a sensor fault."""
    host = Host()
    host.state = "cable_check"
    host.io.status = replace(host.io.status, temps_t=None, temp_dc_plus_c=None, temp_dc_minus_c=None,
                             temp_cable_c=None)
    host.measure(0.0)
    seen = host.clock()
    while host.clock() - seen < 3.5 - 0.05 + 1e-9:
        host.measure(0.0, dt=0.05)
        host.supervisor.tick(host.clock())
    assert host.raised() == []
    assert "temperature" in host.supervisor.refusal()  # but nothing is energized without one
    host.measure(0.0, dt=0.05)
    host.supervisor.tick(host.clock())
    assert host.raised() == ["TEMPERATURE_SENSOR_FAULT"]


def test_a_loop_that_never_gets_back_to_pace_still_sees_a_dead_measure():
    host = Host()
    host.measure(400.0)
    for _ in range(4):  # every tick 150 ms after the previous one: never "recent"
        host.clock.advance(0.15)
        host.supervisor.tick(host.clock())
    assert host.raised() == []  # 0.6 s: could be frames still queued
    for _ in range(3):
        host.clock.advance(0.15)
        host.supervisor.tick(host.clock())
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]  # past 5 x 200 ms: dead whatever the pace


def test_a_reaction_that_raised_is_tried_again_on_the_next_sample():
    host = Host(ev_max_v=420.0)
    original, calls = host.on_fault, []

    def flaky(code, detail, active):
        calls.append(code)
        if len(calls) == 1:
            raise RuntimeError("the connector's reaction failed once")
        original(code, detail, active)

    host.on_fault = flaky
    with pytest.raises(RuntimeError):
        host.measure(560.0)
    host.measure(560.0)
    assert calls == ["VOLTAGE_CLASS_EXCEEDED", "VOLTAGE_CLASS_EXCEEDED"]
    assert "VOLTAGE_CLASS_EXCEEDED" in host.active_faults
