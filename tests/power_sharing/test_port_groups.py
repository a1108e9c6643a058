"""PortGroups: the groups on one output, commanded by its connector as one group, changed by the coordinator."""
from __future__ import annotations

import pytest

from controller.hw.power.group import GroupCapabilities
from controller.power_sharing.port_groups import PortGroups

pytestmark = pytest.mark.timeout(10)


class FakeGroup:
    def __init__(self, amps: float = 300.0, watts: float = 90_000.0, volts: float = 0.0, current: float = 0.0):
        self.capabilities = GroupCapabilities(1000.0, 150.0, amps, watts, 3, 3)
        self.output_voltage_v, self.output_current_a = volts, current
        self.is_on = False
        self.setpoints: list[tuple[float, float]] = []
        self.calls: list[str] = []

    def set_output(self, voltage_v, current_a):
        self.setpoints.append((voltage_v, current_a))

    def switch_on(self):
        self.is_on = True
        self.calls.append("on")

    def switch_off(self):
        self.is_on = False
        self.calls.append("off")

    def emergency_off(self):
        self.is_on = False
        self.calls.append("emergency")

    def module_states(self):
        return [{"address": 1}]


def test_the_setpoint_is_split_by_what_each_member_carries():
    port = PortGroups()
    a, b = FakeGroup(amps=300.0), FakeGroup(amps=100.0)
    port.join("G1", a)
    port.join("G2", b)
    port.set_output(800.0, 200.0)
    assert a.setpoints[-1] == (800.0, 150.0) and b.setpoints[-1] == (800.0, 50.0)


def test_capabilities_add_up_and_follow_the_coordinators_limit():
    port = PortGroups()
    assert port.capabilities.max_power_w == 0.0  # no group on the output: nothing to deliver
    port.join("G1", FakeGroup())
    port.join("G2", FakeGroup())
    assert (port.capabilities.max_current_a, port.capabilities.max_power_w) == (600.0, 180_000.0)
    port.set_limit(188.0, 150_000.0)
    assert (port.capabilities.max_current_a, port.capabilities.max_power_w) == (188.0, 150_000.0)
    assert port.capabilities.healthy_count == 6


def test_a_joining_group_takes_its_share_and_is_switched_on_when_the_port_is_on():
    port = PortGroups()
    a = FakeGroup()
    port.join("G1", a)
    port.set_output(780.0, 300.0)
    port.switch_on()
    b = FakeGroup()
    port.join("G2", b)
    assert b.is_on and b.setpoints[-1] == (780.0, 150.0) and a.setpoints[-1] == (780.0, 150.0)


def test_a_leaving_group_is_handed_back_and_the_others_take_the_setpoint():
    port = PortGroups()
    a, b = FakeGroup(current=100.0), FakeGroup(current=100.0)
    port.join("G1", a)
    port.join("G2", b)
    port.set_output(780.0, 200.0)
    assert port.output_current_a == 200.0
    assert port.leave("G2") is b
    assert a.setpoints[-1] == (780.0, 200.0) and port.output_current_a == 100.0
    assert port.leave("G9") is None


def test_an_emergency_switches_off_only_this_ports_groups():
    ours, theirs = PortGroups(), PortGroups()
    a, b = FakeGroup(), FakeGroup()
    ours.join("G1", a)
    theirs.join("G2", b)
    ours.switch_on()
    theirs.switch_on()
    ours.emergency_off()
    assert a.calls[-1] == "emergency" and b.is_on and theirs.is_on and not ours.is_on


def test_a_bad_setpoint_is_refused():
    port = PortGroups()
    with pytest.raises(ValueError):
        port.set_output(800.0, float("nan"))
    assert port.module_states() == []


def test_a_port_with_no_group_yet_offers_the_modules_voltage_range_but_no_power():
    port = PortGroups((150.0, 1000.0))
    caps = port.capabilities
    assert (caps.min_voltage_v, caps.max_voltage_v) == (150.0, 1000.0)  # a cable check never tests at 0 V
    assert caps.max_current_a == 0.0 and caps.max_power_w == 0.0


def test_a_member_is_never_given_more_current_than_it_carries_when_a_group_left():
    port = PortGroups()
    a, b = FakeGroup(amps=300.0), FakeGroup(amps=300.0)
    port.join("G1", a)
    port.join("G2", b)
    port.set_output(800.0, 500.0)
    port.leave("G2")  # the car's next request has not come yet: the setpoint is still 500 A
    assert a.setpoints[-1] == (800.0, 300.0)


def test_while_a_contact_travels_onto_the_port_its_members_hold_the_bus_and_then_go_back_to_the_setpoint():
    # charging at a set current the reference is the car's target, far above the battery: if the car's contactor
    # opened under a travelling contact, the bus would rise to it (issue #18: 74.5 V across a landing contact)
    port = PortGroups()
    group = FakeGroup()
    port.join("G1", group)
    port.set_output(820.0, 200.0)
    assert group.setpoints[-1] == (820.0, 200.0)
    port.hold_bus(745.0)
    assert group.setpoints[-1] == (745.0, 200.0)  # the current stays what the car draws
    port.set_output(820.0, 210.0)  # the connector's next setpoint: still held
    assert group.setpoints[-1] == (745.0, 210.0)
    port.set_output(700.0, 0.0)  # a stop's hold voltage below it: taken as it is
    assert group.setpoints[-1] == (700.0, 0.0)
    assert port.setpoint == (700.0, 0.0)  # the connector still sees its own setpoint
    port.hold_bus(None)
    port.set_output(820.0, 200.0)
    assert group.setpoints[-1] == (820.0, 200.0)
