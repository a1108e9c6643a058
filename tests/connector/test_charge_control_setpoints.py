"""What reaches the module group from ChargeControl: setpoints sent once (a change under 0.5 V and 0.1 A is no
new frame), a rise at most every 100 ms, a fall at once; the precharge targets refused or accepted at their
edges; and the energy a session books (issue 19's surviving mutants of charge_control.py, session.py and
session_recorder.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from controller.connector.session import SessionRecord
from controller.connector.session_recorder import SessionRecorder
from tests.connector.test_charge_control_edges import Host, _demand

pytestmark = pytest.mark.timeout(30)


def charging_host() -> Host:
    host = Host()
    host.group.is_on = True
    host.control.start_charging()
    return host


def test_a_setpoint_within_half_a_volt_and_a_tenth_of_an_amp_is_not_sent_again():
    host = charging_host()
    control = host.control
    control._apply(400.0, 50.0)
    control._apply(400.4, 49.95)
    assert host.setpoints() == [(400.0, 50.0)]  # the same setpoint, as far as a module can tell
    control._apply(400.5, 49.95)  # 0.5 V away from the last one sent: a new setpoint, and a fall goes at once
    assert host.setpoints() == [(400.0, 50.0), (400.5, 49.95)]


def test_a_rise_waits_for_the_setpoint_interval_and_a_fall_does_not():
    host = charging_host()
    control = host.control
    control._apply(400.0, 50.0)
    host.clock.advance(0.05)
    control._apply(400.0, 60.0)
    control._apply(402.0, 50.0)  # the same current at another voltage is no fall either
    assert host.setpoints()[-1] == (400.0, 50.0)
    control._apply(400.0, 40.0)
    assert host.setpoints()[-1] == (400.0, 40.0)


def test_a_demand_just_over_the_cap_is_flagged_as_clamped():
    host = Host()
    host.cap = (99.5, "current")
    assert host.control.apply_current_demand(_demand(400.0, 100.0))["current_limit_reached"] is True


@pytest.mark.parametrize("target_v, accepted", [(501.0, False), (-1.0, False), (0.0, True), (0.5, True),
                                                (500.0, True)])
def test_precharge_targets_outside_0_to_the_limit_are_refused_and_nothing_is_sent(target_v, accepted):
    host = Host()  # 500 V limit
    host.control.start_precharge()
    assert host.control.apply_precharge(target_v, 2.0) is accepted
    assert bool(host.setpoints()) is accepted


def test_a_precharge_the_guard_refuses_is_answered_and_nothing_is_sent():
    host = Host()
    host.may_energize = lambda what: False
    host.control.start_precharge()
    assert host.control.apply_precharge(400.0, 2.0) is True
    assert host.setpoints() == [] and not host.group.is_on


def test_a_new_precharge_target_gives_the_output_its_time_again():
    host = Host()
    host.precharging(400.0)
    host.voltage_v = 400.0
    host.control.precharge_tick(host.clock())  # reached
    host.voltage_v = 300.0
    host.control.precharge_tick(host.clock())  # off the target from now
    host.clock.advance(1.5)
    host.control.apply_precharge(380.0, 2.0)  # the car moved its target
    host.clock.advance(1.0)
    host.control.precharge_tick(host.clock())  # 2.5 s off the first target, 1 s after the new one
    assert host.faults == []


# ---- the energy a session books -----------------------------------------------------------------------------------
def test_negative_power_books_no_energy_and_a_meter_bracket_keeps_the_meters_figure():
    record = SessionRecord(connector_id=1, start_t=0.0)
    record.add_power(400.0, -2.0, 1.0)
    assert (record.energy_wh, record.module_energy_wh, record.peak_w) == (0.0, 0.0, 0.0)
    record.bracket_with_meter(10_000.0)
    record.meter_progress(10_250.0, 36_000.0)
    record.add_power(400.0, 90.0, 1.0)
    assert record.energy_wh == 250.0 and record.module_energy_wh == pytest.approx(10.0)
    record.meter_progress(9_990.0, 0.0)  # a meter read back below its start reading
    assert record.energy_wh == 0.0


def test_the_meter_is_read_only_into_an_open_bracketed_session_and_only_when_fresh():
    meter = SimpleNamespace(fresh=False, latest=SimpleNamespace(energy_import_wh=10_500.0, power_w=1.0))
    recorder = SessionRecorder(1, wall_clock=lambda: 0.0, meter=lambda: meter, emit=lambda event: None)
    recorder.meter_tick()  # no session: nothing to do
    recorder.session = SessionRecord(connector_id=1, start_t=0.0)
    recorder.session.bracket_with_meter(10_000.0)
    recorder.meter_tick()
    assert recorder.session.energy_wh == 0.0  # a stale meter says nothing
    meter.fresh = True
    recorder.meter_tick()
    assert recorder.session.energy_wh == 500.0
