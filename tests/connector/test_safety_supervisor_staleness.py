"""SafetySupervisor.tick() and the refusal at their bounds exactly (dyadic times and settings): a tick exactly half
a bound after the last is steady, a measure exactly its bound old is not stale, exactly five bounds old after a
stall not yet "far past", a board seen exactly one bound ago still in its grace; what each staleness says; a
status before the first temperature frame; a module answer exactly one bound after the board's measure still
compared (issue 19's surviving mutants of safety_supervisor.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from controller.hw.io_board import NEVER
from tests.connector.test_safety_supervisor import Host

pytestmark = pytest.mark.timeout(30)


def tick_every(host: Host, step: float, ticks: int) -> float:
    """A control tick now, then `ticks` more `step` s apart, with no new reading; the first tick's time."""
    start = host.clock()
    host.supervisor.tick(start)
    for _ in range(ticks):
        host.clock.advance(step)
        host.supervisor.tick(host.clock())
    return start


def stale_after(host: Host, code: str, step: float, ticks: int) -> list[float]:
    """tick_every(), and when (after its first tick) `code` was raised."""
    start = tick_every(host, step, ticks)
    return [t - start for t, c, active in host.reports if c == code and active]


def test_a_measure_exactly_its_bound_old_is_fresh_and_ticks_half_a_bound_apart_judge_it():
    host = Host(measurement_stale_s=0.5)
    host.io.status = replace(host.io.status, measure_t=host.clock())
    assert stale_after(host, "VOLTAGE_MEASUREMENT_STALE", 0.25, 3) == [0.75]  # not at 0.5, not only at 2.5 (stall)


def test_temperatures_exactly_their_bound_old_are_fresh():
    host = Host(temperature_stale_s=4.0, measurement_stale_s=1.0)
    host.io.status = replace(host.io.status, temps_t=host.clock(), measure_t=NEVER)
    host.supervisor.check_io(host.io.status)
    assert stale_after(host, "TEMPERATURE_SENSOR_FAULT", 0.5, 9) == [4.5]


@pytest.mark.parametrize("code, bound, field", [
    ("VOLTAGE_MEASUREMENT_STALE", "measurement_stale_s", "measure_t"),
    ("TEMPERATURE_SENSOR_FAULT", "temperature_stale_s", "temps_t"),
])
def test_after_a_stall_a_reading_exactly_five_bounds_old_waits_for_a_steady_tick(code, bound, field):
    host = Host(**{bound: 0.5})
    host.io.status = replace(host.io.status, **{field: host.clock()})
    start = host.clock()
    host.supervisor.tick(start)
    host.clock.advance(2.5)  # the loop stood still: this tick is late, and the reading is exactly 5 bounds old
    host.supervisor.tick(host.clock())
    assert code not in host.raised()
    host.clock.advance(0.125)  # the next tick follows a recent one: judged now
    host.supervisor.tick(host.clock())
    assert code in host.raised()


def test_what_a_tick_says_of_a_dc_measure_and_of_temperatures_never_received():
    host = Host(measurement_stale_s=0.5, temperature_stale_s=0.5)
    host.io.status = replace(host.io.status, measure_t=NEVER, temps_t=None)
    tick_every(host, 0.25, 3)
    assert host.active_faults["VOLTAGE_MEASUREMENT_STALE"].detail == "I/O board DC measure never received"
    assert host.active_faults["TEMPERATURE_SENSOR_FAULT"].detail == "connector temperatures never received"


def test_what_a_tick_says_of_a_dc_measure_that_stopped():
    host = Host(measurement_stale_s=0.5)
    host.io.status = replace(host.io.status, measure_t=host.clock())
    tick_every(host, 0.25, 3)
    assert host.active_faults["VOLTAGE_MEASUREMENT_STALE"].detail == "I/O board DC measure 0.75 s old"


def test_the_refusal_says_never_received():
    host = Host()
    host.io.status = replace(host.io.status, measure_t=NEVER)
    assert host.supervisor.refusal() == "DC voltage measurement stale (never received)"


def test_a_board_seen_exactly_one_bound_ago_is_still_in_its_grace():
    host = Host(measurement_stale_s=0.5)
    host.io.status = replace(host.io.status, measure_t=NEVER)
    host.supervisor.check_io(host.io.status)  # the board's first status: seen now, no DC measure yet
    host.clock.advance(0.5)
    host.supervisor.report_refusal()
    assert host.raised() == []
    host.clock.advance(0.125)
    host.supervisor.report_refusal()
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]


def test_after_a_stall_a_refusal_is_a_fault_only_past_five_bounds():
    host = Host(measurement_stale_s=0.5)
    host.io.status = replace(host.io.status, measure_t=host.clock())
    host.supervisor.tick(host.clock())
    host.clock.advance(2.5)
    host.supervisor.tick(host.clock())  # late: the receive queue may still hold the measures
    host.supervisor.report_refusal()
    assert host.raised() == []  # exactly five bounds old: not yet "far past"
    host.clock.advance(0.125)
    host.supervisor.report_refusal()
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]


def test_a_status_before_the_first_temperature_frame_is_no_sensor_fault():
    host = Host()
    host.io.status = replace(host.io.status, temps_t=None, temp_dc_plus_c=None, temp_dc_minus_c=None,
                             temp_cable_c=None)
    for _ in range(3):
        host.measure(0.0)
    assert "TEMPERATURE_SENSOR_FAULT" not in host.raised()


def test_a_module_answer_exactly_one_bound_after_the_boards_measure_is_still_compared():
    host = Host(measurement_stale_s=0.5, voltage_mismatch_s=0.25)
    host.group.is_on = True
    host.group.output_voltage_v = 400.0
    for _ in range(4):
        host.clock.advance(0.125)
        host.group.voltage_t = host.clock() + 0.5  # answered exactly 0.5 s after the board's measure
        host.io.status = replace(host.io.status, cable_voltage_v=300.0, measure_t=host.clock())
        host.supervisor.check_modules()
    assert host.raised() == ["VOLTAGE_MEASUREMENT_MISMATCH"]


def test_energizing_is_allowed_with_a_measure_exactly_its_bound_old():
    host = Host(measurement_stale_s=0.5)
    host.temps(30.0, dt=0.0)
    host.io.status = replace(host.io.status, measure_t=host.clock())
    host.clock.advance(0.5)
    assert host.supervisor.refusal() == ""
    host.clock.advance(0.125)
    assert host.supervisor.refusal() == "DC voltage measurement stale (0.62 s old)"


def test_a_stale_measure_that_came_back_is_cleared_once():
    host = Host(measurement_stale_s=0.5)
    host.io.status = replace(host.io.status, measure_t=host.clock())
    tick_every(host, 0.25, 3)
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"]
    for _ in range(5):
        host.measure(0.0)
    assert [(code, active) for _, code, active in host.reports] == [
        ("VOLTAGE_MEASUREMENT_STALE", True), ("VOLTAGE_MEASUREMENT_STALE", False)]
