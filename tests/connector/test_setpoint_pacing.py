"""What reaches the module bus from the control loop: a setpoint that differs by less than 0.5 V and 0.1 A is
not sent again, a rise (or a voltage change at the same current) waits SETPOINT_INTERVAL_S after the last one
sent, a fall goes at once; each bound exactly (issue 19's surviving mutants of charge_control.py's _apply). Driven
through apply_precharge (current capped at precharge_max_current_a)."""
from __future__ import annotations

import pytest

from controller.formats.cabinet.config import ChargingConfig
from controller.connector.charge_control import SETPOINT_INTERVAL_S, ChargeControl
from tests.connector.fakes import FakeGroup
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(10)


class Host:
    def __init__(self, start_s: float = 0.0):
        self.charging = ChargingConfig(precharge_max_current_a=20.0)
        self.clock = FakeClock(start_s)  # from 0: differences of 0.1 s are exact
        self.group = FakeGroup()
        self.group.is_on = True
        self.control = ChargeControl(self)

    def voltage_limit_v(self) -> float:
        return 500.0

    def may_energize(self, what: str) -> bool:
        return True

    def switch_on(self) -> None:
        self.group.is_on = True

    def sent(self, volts: float, amps: float) -> list[tuple]:
        """Ask for a precharge setpoint; the setpoints the modules got from this call."""
        mark = len(self.group.log)
        assert self.control.apply_precharge(volts, amps)
        return [entry for entry in self.group.log[mark:] if entry[0] == "set"]


def test_the_same_setpoint_is_not_sent_again():
    host = Host()
    assert host.sent(400.0, 10.0) == [("set", 400.0, 10.0)]
    host.clock.advance(1.0)
    assert host.sent(400.0, 10.0) == []
    assert host.sent(400.25, 10.0) == []  # below 0.5 V and 0.1 A: no frame for it


@pytest.mark.parametrize("volts, amps", [(400.5, 10.0), (401.0, 10.0)])
def test_a_voltage_change_of_half_a_volt_or_more_is_sent(volts, amps):
    host = Host()
    host.sent(400.0, 10.0)
    host.clock.advance(1.0)
    assert host.sent(volts, amps) == [("set", volts, amps)]


def test_a_current_change_of_a_tenth_of_an_ampere_is_sent():
    host = Host()
    host.sent(400.0, 0.0)
    host.clock.advance(1.0)
    assert host.sent(400.0, 0.1) == [("set", 400.0, 0.1)]


def test_a_rise_waits_for_the_interval_and_goes_at_it_exactly():
    host = Host()
    host.sent(400.0, 10.0)
    host.clock.now = SETPOINT_INTERVAL_S / 2
    assert host.sent(400.0, 12.0) == []
    assert host.sent(401.0, 10.0) == []  # the same current at another voltage waits too
    host.clock.now = SETPOINT_INTERVAL_S
    assert host.sent(400.0, 12.0) == [("set", 400.0, 12.0)]


def test_a_fall_goes_at_once():
    host = Host()
    host.sent(400.0, 10.0)
    host.clock.now = SETPOINT_INTERVAL_S / 2
    assert host.sent(400.0, 5.0) == [("set", 400.0, 5.0)]


def test_a_rise_long_after_the_start_still_waits_for_the_interval():
    host = Host(start_s=1000.0)
    host.sent(400.0, 10.0)
    host.clock.advance(0.0625)
    assert host.sent(400.0, 12.0) == []
    host.clock.advance(0.0625)
    assert host.sent(400.0, 12.0) == [("set", 400.0, 12.0)]
