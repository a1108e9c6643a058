"""ChargeControl where make mutate found it untested: each bound exactly at its value, a precharge whose
output is live through the modules alone, the limit flags the car reads in CurrentDemandRes, the power limit
judged at the battery's voltage, the hold at zero, and the words of each fault. A small host stands in for
the connector; the module group's setpoints are read from its command log."""
from __future__ import annotations

import pytest

from controller.connector.charge_control import PRECHARGE_DEVIATION_S, PRECHARGE_REQUEST_TIMEOUT_S, ChargeControl
from controller.connector.ev_session import CurrentDemand
from controller.formats.cabinet.config import ChargingConfig
from tests.connector.fakes import FakeBoard, FakeGroup
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)


class Host:
    def __init__(self) -> None:
        self.charging = ChargingConfig()
        self.io = FakeBoard()
        self.group = FakeGroup()
        self.clock = FakeClock(1000.0)
        self.last_ev_request_t: float | None = None
        self.commanded = False
        self.voltage_v = 0.0
        self.state_since = self.clock()
        self.cap: tuple[float, str] = (200.0, "current")
        self.cap_asked_at: list[float] = []
        self.faults: list[tuple[str, str]] = []
        self.control = ChargeControl(self)

    def contactors_commanded(self) -> bool:
        return self.commanded

    def board_max_voltage_v(self) -> float:
        return 550.0

    def voltage_limit_v(self) -> float:
        return 500.0

    def current_limit_a(self, voltage_v: float) -> tuple[float, str]:
        self.cap_asked_at.append(voltage_v)
        return self.cap

    def present_voltage(self) -> float:
        return self.voltage_v

    def may_energize(self, what: str) -> bool:
        return True

    def switch_on(self) -> None:
        self.group.switch_on()

    def state_elapsed(self, now: float) -> float:
        return now - self.state_since

    def raise_fault(self, code: str, detail: str = "") -> None:
        self.faults.append((code, detail))

    def precharging(self, target_v: float = 400.0) -> None:
        """The car's first PreChargeReq of a session: the modules go on towards its target."""
        self.control.start_precharge()
        self.control.apply_precharge(target_v, 2.0)

    def setpoints(self) -> list[tuple[float, float]]:
        return [entry[1:] for entry in self.group.log if entry[0] == "set"]


def _demand(volts: float, amps: float) -> CurrentDemand:
    return CurrentDemand(target_voltage_v=volts, target_current_a=amps)


# ---- precharge ---------------------------------------------------------------------------------------------------
def test_a_car_silent_during_precharge_with_only_the_modules_on_is_a_timeout():
    host = Host()
    host.control.start_precharge()
    host.last_ev_request_t = host.clock()
    assert host.control.apply_precharge(400.0, 2.0) and host.group.is_on and not host.commanded
    host.control.precharge_tick(host.clock() + PRECHARGE_REQUEST_TIMEOUT_S)
    assert host.faults == []  # the bound itself is allowed
    host.control.precharge_tick(host.clock() + PRECHARGE_REQUEST_TIMEOUT_S + 0.01)
    assert host.faults == [("EV_TIMEOUT", "no PreCharge request for 2 s with the output live")]


def test_the_precharge_tolerance_itself_counts_as_reached():
    host = Host()
    host.precharging()
    host.voltage_v = 400.0 - host.charging.precharge_tolerance_v
    assert host.control.precharge_reached()
    host.voltage_v -= 0.5
    assert not host.control.precharge_reached()


def test_a_precharge_that_never_reaches_fails_just_after_its_bound_and_names_the_target():
    host = Host()
    host.precharging()
    host.voltage_v = 120.0
    bound = host.charging.precharge_timeout_s
    host.control.precharge_tick(host.state_since + bound)
    assert host.faults == []
    host.control.precharge_tick(host.state_since + bound + 0.01)
    assert host.faults == [("PRECHARGE_FAILED", f"output 120 V, EV target 400 V after {bound:g} s")]


def test_a_precharge_without_any_target_says_none():
    host = Host()
    host.control.start_precharge()
    host.control.precharge_tick(host.state_since + host.charging.precharge_timeout_s + 0.01)
    assert host.faults == [("PRECHARGE_FAILED", "output 0 V, EV target none after 7 s")]


def test_an_output_that_leaves_the_reached_target_fails_just_after_the_deviation_bound():
    host = Host()
    host.precharging()
    host.voltage_v = 400.0
    host.control.precharge_tick(host.clock())
    host.voltage_v = 300.0
    left = host.clock() + 1.0
    host.control.precharge_tick(left)
    host.control.precharge_tick(left + PRECHARGE_DEVIATION_S)
    assert host.faults == []
    host.control.precharge_tick(left + PRECHARGE_DEVIATION_S + 0.01)
    assert host.faults == [("PRECHARGE_FAILED", "output 300 V left the EV target 400 V for 2 s")]


def test_a_reached_precharge_without_power_delivery_fails_just_after_twice_the_bound():
    host = Host()
    host.precharging()
    host.voltage_v = 400.0
    twice = 2 * host.charging.precharge_timeout_s
    host.control.precharge_tick(host.state_since + twice)
    assert host.faults == []
    host.control.precharge_tick(host.state_since + twice + 0.01)
    assert host.faults == [("PRECHARGE_FAILED", "no PowerDelivery(start) within 14 s")]


# ---- charging ------------------------------------------------------------------------------------------------------
def test_charging_without_a_precharge_target_holds_the_present_voltage():
    host = Host()
    host.voltage_v = 372.0
    host.control.start_charging()
    assert host.control.target_voltage_v == 372.0


@pytest.mark.parametrize("present, asked", [(30.0, 400.0), (60.0, 400.0), (60.5, 60.5), (355.0, 355.0)])
def test_the_power_limit_is_judged_at_the_battery_voltage_once_above_the_safe_voltage(present, asked):
    host = Host()
    host.voltage_v = present
    host.control.apply_current_demand(_demand(400.0, 100.0))
    assert host.cap_asked_at == [asked]


@pytest.mark.parametrize("cap, limiter, flags", [
    ((80.0, "current"), "current", (True, False)), ((80.0, "ev"), "ev", (True, False)),
    ((80.0, "power"), "power", (False, True)), ((100.0, "current"), "at the cap", (False, False)),
    ((150.0, "power"), "below the cap", (False, False))])
def test_the_limit_flags_tell_the_car_which_limit_clamped_its_demand(cap, limiter, flags):
    host = Host()
    host.cap = cap
    answer = host.control.apply_current_demand(_demand(400.0, 100.0))
    assert (answer["current_limit_reached"], answer["power_limit_reached"]) == flags, limiter
    assert answer["voltage_limit_reached"] is False


def test_the_voltage_flag_only_above_the_limit():
    host = Host()  # 500 V limit
    assert host.control.apply_current_demand(_demand(500.0, 10.0))["voltage_limit_reached"] is False
    answer = host.control.apply_current_demand(_demand(500.5, 10.0))
    assert answer["voltage_limit_reached"] is True and host.control.target_voltage_v == 500.0


def test_an_invalid_request_holds_the_voltage_at_no_current():
    host = Host()
    host.group.is_on = True
    host.control.start_charging()
    host.control.target_voltage_v = 410.0
    host.voltage_v = 395.0
    host.control.hold_current_at_zero()
    assert host.setpoints()[-1] == (410.0, 0.0)


def test_a_car_silent_while_charging_times_out_just_after_its_bound():
    host = Host()
    host.last_ev_request_t = host.clock()
    silence = host.charging.current_demand_timeout_s
    host.control.charging_tick(host.clock() + silence, 0.05)
    assert host.faults == []
    host.control.charging_tick(host.clock() + silence + 0.01, 0.05)
    assert host.faults == [("EV_TIMEOUT", "no CurrentDemand request for 1 s")]
