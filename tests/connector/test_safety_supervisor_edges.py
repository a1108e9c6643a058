"""SafetySupervisor where make mutate found it untested: one sample must count once, a filter starts from zero
in every session and after every clean sample, the modules' own power limit, limits when the car gave none,
the module fallback for the measured current, temperature freshness and plausibility, the mismatch check at
high voltage, and the words a technician reads. Each test kills mutants of safety_supervisor.py that
survived every other test."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.connector.test_safety_supervisor import Host as BaseHost

pytestmark = pytest.mark.timeout(30)


class Host(BaseHost):
    """The base host, keeping each report's words too."""

    def __init__(self, **kwargs):
        self.details: list[tuple[str, str, bool]] = []
        super().__init__(**kwargs)

    def on_fault(self, code, detail, active):
        self.details.append((code, detail, active))
        super().on_fault(code, detail, active)

    def status_only(self, dt=0.02):
        """A status frame: the board's DC measure and temperatures are the ones already held."""
        self.clock.advance(dt)
        self.io.status = replace(self.io.status, t=self.clock())
        self.supervisor.check_io(self.io.status)


# ---- one sample counts once -----------------------------------------------------------------------------------
def test_a_measure_seen_again_with_later_frames_is_not_counted_again():
    host = Host()  # allowed 420 V + 10 V; over-voltage needs 0.4 s and 3 samples
    host.measure(450.0)
    for _ in range(5):  # status and temperature frames carry the same measure
        host.status_only()
        host.temps(30.0, dt=0.0)
    host.measure(450.0, dt=0.4)
    assert host.raised() == []  # two samples, however many frames carried them
    host.measure(450.0)
    assert host.raised() == ["OUTPUT_OVERVOLTAGE"]


def test_a_clean_sample_empties_the_filter():
    host = Host()
    host.measure(450.0)
    host.measure(450.0)
    host.measure(400.0)  # back inside
    host.measure(450.0, dt=0.2)
    host.measure(450.0, dt=0.4)
    assert host.raised() == []  # two offending samples since the clean one
    host.measure(450.0)
    assert host.raised() == ["OUTPUT_OVERVOLTAGE"]


def test_a_new_session_starts_every_filter_from_zero():
    host = Host()
    host.measure(450.0)
    host.measure(450.0)
    host.supervisor.reset_session()
    host.measure(450.0)
    host.measure(450.0, dt=0.4)
    assert host.raised() == []


def test_a_status_frame_before_any_measure_does_not_clear_a_stale_measure():
    host = Host()
    host.io.status = replace(host.io.status, measure_t=float("-inf"))
    for _ in range(6):  # steady ticks for 0.25 s after the board was first seen
        host.supervisor.tick(host.clock())
        host.clock.advance(0.05)
    assert host.details[-1] == ("VOLTAGE_MEASUREMENT_STALE", "I/O board DC measure never received", True)
    host.status_only()
    assert host.raised() == ["VOLTAGE_MEASUREMENT_STALE"] and "VOLTAGE_MEASUREMENT_STALE" in host.active_faults
    host.measure(0.0)
    assert host.details[-1] == ("VOLTAGE_MEASUREMENT_STALE", "DC measure fresh again", False)


# ---- limits ------------------------------------------------------------------------------------------------------
def test_the_modules_available_power_caps_the_port():
    host = Host()  # a 60 kW port
    assert host.supervisor.derated_power_limit_w() == 60000.0
    host.group.available_power_w = lambda: 30000.0  # half its modules lost
    assert host.supervisor.derated_power_limit_w() == 30000.0


def test_a_car_that_gave_no_maximum_leaves_the_cables_limits():
    host = Host(ev_max_v=0.0, ev_max_a=0.0)
    assert host.supervisor.session_max_voltage_v() == 500.0
    host.group.is_on, host.group.setpoint = True, (400.0, 300.0)
    assert host.supervisor.current_limit_a(host.clock()) == 200.0


def test_without_car_parameters_the_current_limit_is_the_cable_and_the_command():
    host = Host()
    host.ev_parameters = None
    host.group.is_on, host.group.setpoint = True, (400.0, 120.0)
    assert host.supervisor.current_limit_a(host.clock()) == 120.0


def test_a_setpoint_left_in_modules_that_are_off_allows_no_current():
    host = Host()
    host.group.is_on, host.group.setpoint = False, (400.0, 100.0)
    assert host.supervisor.current_limit_a(host.clock()) == 0.0


def test_the_power_correction_recovers_at_most_one_second_per_sample_and_never_above_the_port():
    host = Host()  # 60 kW port: above 61.8 kW the next setpoint is lowered
    host.measure(400.0, amps=180.0)  # 72 kW
    lowered = host.supervisor.derated_power_limit_w()
    assert lowered == pytest.approx(60000.0 * 60000.0 / 72000.0)
    host.measure(400.0, amps=100.0, dt=2.0)  # 40 kW, two seconds later: one second of recovery counted
    assert host.supervisor.derated_power_limit_w() == pytest.approx(lowered + 0.02 * 60000.0)
    for _ in range(100):
        host.measure(400.0, amps=100.0, dt=1.0)
    assert host.supervisor.derated_power_limit_w() == 60000.0


# ---- the measured current when the board's measure is stale ------------------------------------------------------
def test_a_stale_board_measure_gives_the_modules_power_over_their_voltage():
    host = Host()
    host.io.status = replace(host.io.status, cable_voltage_v=401.0, cable_current_a=99.0)
    assert host.supervisor.output_sample() == (401.0, 99.0)  # fresh: the board's own
    host.clock.advance(0.5)
    host.group.output_voltage_v, host.group.output_power_w = 400.0, 40000.0
    assert host.supervisor.output_sample() == (400.0, 100.0)
    host.group.output_voltage_v, host.group.output_power_w = 0.5, 10.0  # no voltage: no current to speak of
    assert host.supervisor.output_sample() == (0.5, 0.0)


# ---- temperatures ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reading", [-40.0, 200.0])
def test_the_ends_of_the_plausible_temperature_range_are_plausible(reading):
    host = Host()
    host.temps(reading)
    assert "TEMPERATURE_SENSOR_FAULT" not in host.raised()


def test_a_sensor_that_reads_plausibly_again_clears_its_fault_with_a_reason():
    host = Host()
    host.temps(250.0)
    assert host.details[-1] == ("TEMPERATURE_SENSOR_FAULT",
                                "implausible connector temperature 250.0 degC (open or shorted sensor)", True)
    host.temps(30.0)
    assert host.details[-1] == ("TEMPERATURE_SENSOR_FAULT", "connector temperatures plausible and fresh", False)


def test_derating_clears_at_two_degrees_below_its_start_and_says_so():
    host = Host()  # derating from 70 degC
    host.temps(71.0)
    assert host.details[-1] == ("POWER_DERATED", "connector at 71.0 degC, power derated above 70 degC", True)
    host.temps(68.5)
    assert "POWER_DERATED" in host.active_faults
    host.temps(68.0)
    assert host.details[-1] == ("POWER_DERATED", "connector temperature normal", False)


def test_temperatures_read_once_and_then_silent_refuse_energizing():
    host = Host()
    host.temps(30.0)
    for _ in range(200):  # 4 s of fresh DC measures, no temperature frame
        host.measure(0.0)
    assert host.supervisor.refusal() == "temperature measurement missing or stale"


def test_temperatures_arriving_every_second_are_never_stale_on_the_tick():
    host = Host()
    host.supervisor.tick(host.clock())  # the board is seen from here
    for step in range(120):  # 6 s of steady 50 ms ticks, fresh DC measures, a temperature frame every second
        host.measure(0.0, dt=0.05)
        if step % 20 == 19:
            host.temps(30.0, dt=0.0)
        host.supervisor.tick(host.clock())
    assert host.raised() == []


def test_a_board_just_online_without_temperatures_yet_refuses_without_a_fault():
    host = Host()
    host.io.status = replace(host.io.status, temps_t=None)
    host.supervisor.tick(host.clock())  # seen now; its first 1 Hz temperature frame is not due yet
    for _ in range(20):
        host.measure(0.0, dt=0.05)
        host.supervisor.tick(host.clock())
    assert host.supervisor.refusal() == "temperature measurement missing or stale"
    host.supervisor.report_refusal()
    assert host.raised() == []


def test_after_a_stall_a_measure_far_past_its_bound_is_a_fault_at_once_and_one_just_past_waits():
    host = Host()
    host.state = "available"  # no staleness judged by the tick itself: only the refusal speaks
    host.supervisor.tick(host.clock())
    host.clock.advance(0.5)  # the loop stood still; the measure is 0.5 s old, temperatures fresh
    host.io.status = replace(host.io.status, temps_t=host.clock())
    host.supervisor.tick(host.clock())
    host.supervisor.report_refusal()
    assert host.raised() == []  # frames may still wait in the receive queue
    host.clock.advance(1.5)  # 2 s old: five bounds and more, whatever waits in the queue
    host.io.status = replace(host.io.status, temps_t=host.clock())
    host.supervisor.tick(host.clock())
    host.supervisor.report_refusal()
    assert host.details[-1] == ("VOLTAGE_MEASUREMENT_STALE", "DC voltage measurement stale (2.00 s old): "
                                "energizing refused", True)


def test_after_a_stall_temperatures_a_little_past_their_bound_are_not_yet_a_fault():
    host = Host()
    host.supervisor.tick(host.clock())
    host.clock.advance(4.0)  # one late tick: temperatures 4 s old, the DC measure comes with the queue
    host.io.status = replace(host.io.status, measure_t=host.clock())
    host.supervisor.tick(host.clock())
    assert host.raised() == []


def test_a_tick_names_how_old_the_temperatures_are():
    host = Host()
    host.temps(30.0)
    for _ in range(80):  # steady ticks every 50 ms with fresh DC measures, no temperature frame
        host.measure(0.0, dt=0.05)
        host.supervisor.tick(host.clock())
    assert ("TEMPERATURE_SENSOR_FAULT", "connector temperatures 3.5 s old", True) in host.details


# ---- modules against the board -----------------------------------------------------------------------------------
def test_at_high_voltage_the_mismatch_allows_five_percent():
    host = Host()
    host.group.is_on = True
    host.io.status = replace(host.io.status, cable_voltage_v=765.0)
    for _ in range(20):  # 4 s at 35 V apart: inside 5 % of 800 V
        host.module_answer(800.0)
    assert host.raised() == []


def test_the_same_module_answer_is_judged_once():
    host = Host()
    host.group.is_on = True
    host.io.status = replace(host.io.status, cable_voltage_v=300.0)
    host.module_answer(400.0)
    for _ in range(5):
        host.supervisor.check_modules()  # no new answer
    host.module_answer(400.0, dt=2.0)
    assert host.raised() == []  # two answers, whatever the calls
    host.module_answer(400.0)
    assert host.raised() == ["VOLTAGE_MEASUREMENT_MISMATCH"]


def test_a_board_that_never_measured_is_not_compared_with_the_modules():
    host = Host()
    host.group.is_on = True
    host.io.status = replace(host.io.status, measure_t=float("-inf"), cable_voltage_v=0.0)
    for _ in range(20):
        host.clock.advance(0.2)
        host.group.output_voltage_v, host.group.voltage_t = 400.0, host.clock()
        host.supervisor.check_modules()
    assert host.raised() == []


def test_answers_while_the_contactors_are_open_restart_the_mismatch_filter():
    host = Host()
    host.group.is_on = True
    host.io.status = replace(host.io.status, cable_voltage_v=300.0)
    host.module_answer(400.0)
    host.module_answer(400.0)
    host.io.status = replace(host.io.status, dc_plus_closed=False, dc_minus_closed=False)
    for _ in range(10):
        host.module_answer(400.0)
    host.io.status = replace(host.io.status, dc_plus_closed=True, dc_minus_closed=True)
    host.module_answer(400.0)
    host.module_answer(400.0, dt=2.0)
    assert host.raised() == []
    host.module_answer(400.0)
    assert host.details[-1] == ("VOLTAGE_MEASUREMENT_MISMATCH", "I/O board 300.0 V, modules 400.0 V for 2.2 s", True)


# ---- what the technician reads -----------------------------------------------------------------------------------
def test_the_refusals_say_why():
    host = Host()
    host.io.online = False
    assert host.supervisor.refusal() == "I/O board offline"
    host.io.online, host.io.status = True, None
    assert host.supervisor.refusal() == "no I/O board status"


def test_a_blocking_emergency_and_error_are_named_together():
    host = Host()
    host.on_fault("ESTOP_PRESSED", "pressed", True)
    host.on_fault("OUTPUT_OVERCURRENT", "over", True)
    assert host.supervisor.refusal() == "blocking fault ESTOP_PRESSED,OUTPUT_OVERCURRENT"


def test_a_stale_measure_refusal_becomes_a_fault_with_its_age():
    host = Host()
    host.clock.advance(0.5)
    host.supervisor.report_refusal()
    assert host.details[-1] == ("VOLTAGE_MEASUREMENT_STALE", "DC voltage measurement stale (0.50 s old): "
                                "energizing refused", True)


def _raised_words(host) -> dict[str, str]:
    return {code: detail for code, detail, active in host.details if active}


def test_the_over_current_detail_gives_the_current_the_time_held_and_the_allowance():
    host = Host()
    host.group.is_on, host.group.setpoint = True, (400.0, 100.0)
    for _ in range(26):  # 0.5 s of 180 A against a 100 A command
        host.measure(400.0, amps=180.0)
    assert _raised_words(host)["OUTPUT_OVERCURRENT"] == "180.0 A (I/O board) for 0.50 s, allowed 100.0 A + 10.0 A"


def test_the_over_power_detail_gives_the_power_the_time_held_and_the_port():
    host = Host(ev_max_a=200.0)
    host.group.is_on, host.group.setpoint = True, (420.0, 200.0)
    for _ in range(51):  # 1.0 s of 75.6 kW on a 60 kW port
        host.measure(420.0, amps=180.0)
    assert _raised_words(host)["PORT_OVERPOWER"] == "75.6 kW measured for 1.00 s on a 60 kW port"


def test_the_over_voltage_detail_gives_the_voltage_the_time_held_and_the_allowance():
    host = Host()
    host.measure(445.0)
    host.measure(445.0)
    host.measure(445.0, dt=0.4)
    assert _raised_words(host)["OUTPUT_OVERVOLTAGE"] == "445.0 V for 0.42 s, allowed 420 V + 10 V"
