"""SafetySupervisor at its bounds exactly (times are sums of powers of two; the settings are set to such values):
a measure exactly as old as its bound is still fresh, a command's follow window includes its end, the power
correction holds inside its margin and recovers from the port's power exactly, a car's limit below 1 V or 1 A
still limits, and a board status without a DC measure time is dated by its own time (issue 19's surviving
mutants of safety_supervisor.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.connector.test_safety_supervisor import Host

pytestmark = pytest.mark.timeout(30)


def test_a_board_measure_exactly_as_old_as_its_bound_is_still_the_sample():
    host = Host(measurement_stale_s=0.25)
    host.io.status = replace(host.io.status, cable_voltage_v=401.0, cable_current_a=99.0, measure_t=host.clock())
    host.group.output_voltage_v, host.group.output_power_w = 400.0, 40_000.0
    host.clock.advance(0.25)
    assert host.supervisor.output_sample() == (401.0, 99.0)
    host.clock.advance(0.125)
    assert host.supervisor.output_sample() == (400.0, 100.0)  # stale: the modules' power over their voltage


@pytest.mark.parametrize("volts, amps", [(1.0, 0.0), (1.5, 10.0)])
def test_the_modules_current_counts_only_above_1_v(volts, amps):
    host = Host()
    host.clock.advance(1.0)  # the board's measure is stale
    host.group.output_voltage_v, host.group.output_power_w = volts, 15.0
    assert host.supervisor.output_sample() == (volts, amps)


def test_temperatures_exactly_as_old_as_their_bound_are_still_fresh():
    host = Host(temperature_stale_s=4.0)
    host.temps(30.0, dt=0.0)
    for _ in range(8):
        host.measure(0.0, dt=0.5)  # the DC measure stays fresh
    assert host.supervisor.stale_measurement() is None
    host.measure(0.0, dt=0.125)
    assert host.supervisor.stale_measurement()[0] == "TEMPERATURE_SENSOR_FAULT"


def test_a_lower_command_counts_only_after_the_follow_window_has_passed():
    host = Host(command_follow_s=0.5)
    host.group.is_on, host.group.setpoint = True, (400.0, 100.0)
    assert host.supervisor.current_limit_a(host.clock()) == 100.0
    host.group.setpoint = (400.0, 50.0)
    host.clock.advance(0.5)
    assert host.supervisor.current_limit_a(host.clock()) == 100.0  # the output still has its time to follow
    host.clock.advance(0.125)
    assert host.supervisor.current_limit_a(host.clock()) == 50.0


@pytest.mark.parametrize("ev", [dict(ev_max_v=0.75), dict(ev_max_a=0.75)])
def test_a_cars_limit_below_one_still_limits(ev):
    host = Host(**ev)
    host.group.is_on, host.group.setpoint = True, (400.0, 100.0)
    if "ev_max_v" in ev:
        assert host.supervisor.session_max_voltage_v() == 0.75
    else:
        assert host.supervisor.current_limit_a(host.clock()) == 0.75


def test_the_power_correction_holds_inside_its_margin_and_recovers_from_the_ports_power():
    host = Host()  # 60 kW port, lowered above 61.8 kW
    host.measure(400.0, amps=180.0)  # 72 kW
    lowered = host.supervisor.derated_power_limit_w()
    host.measure(400.0, amps=152.5, dt=1.0)  # 61 kW: above the port, inside the margin
    assert host.supervisor.derated_power_limit_w() == pytest.approx(lowered)
    host.measure(400.0, amps=150.0, dt=1.0)  # 60 kW exactly: recovering
    assert host.supervisor.derated_power_limit_w() == pytest.approx(lowered + 0.02 * 60_000.0)


def test_a_status_without_a_dc_measure_time_is_dated_by_its_own_time():
    host = Host(overvoltage_error_s=0.125)
    host.io.status = replace(host.io.status, cable_voltage_v=700.0, measure_t=None, t=host.clock())
    for _ in range(20):  # the same status seen again and again: one sample
        host.clock.advance(0.02)
        host.supervisor.check_io(host.io.status)
    assert "OUTPUT_OVERVOLTAGE" not in host.raised()
    for _ in range(20):  # new statuses: new samples
        host.clock.advance(0.02)
        host.io.status = replace(host.io.status, t=host.clock())
        host.supervisor.check_io(host.io.status)
    assert "OUTPUT_OVERVOLTAGE" in host.raised()
