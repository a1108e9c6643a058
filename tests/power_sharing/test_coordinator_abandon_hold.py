"""While a close is abandoned (ABANDON: the contact commanded open but maybe still landing), the receiving port
holds: its groups' reference at most its bus + HOLD_MARGIN_V, its limit not raised, and the abandoned group at
the matched voltage with no current. Until now only CLOSE was shown to hold (issue #18).

The coordinator, the real move sequence and the controller's move plant (LiveMovePlant over PortGroups) with
fake module groups, a fake connector and fake matrix contacts whose feedback the test sets."""
from __future__ import annotations

import pytest

from controller.power_sharing.allocator import GroupRating, PortDemand
from controller.power_sharing.coordinator import SharingCoordinator
from controller.power_sharing.group_move import Step
from controller.power_sharing.live_plant import HOLD_MARGIN_V, LiveMovePlant
from controller.power_sharing.port_groups import PortGroups
from tests.fakes.clock import FakeClock
from tests.power_sharing.test_live_wiring import FakeConnector
from tests.power_sharing.test_port_groups import FakeGroup

pytestmark = pytest.mark.timeout(10)

BUS_V = 700.0  # the charging car's bus (the port's contactors are closed)
TARGET_V = 820.0  # the car's target: a port charging at a set current has it as its reference
PERIOD_S = 0.05


class ReadingGroup(FakeGroup):
    """Reads the voltage it was last set to (its modules slew fast), less `sag_v`; always fresh."""

    def __init__(self, volts: float = 0.0) -> None:
        super().__init__(amps=300.0, watts=90_000.0, volts=volts)
        self.sag_v = 0.0

    def set_output(self, voltage_v, current_a):
        super().set_output(voltage_v, current_a)
        self.output_voltage_v = voltage_v - self.sag_v

    def measured_since(self, t: float) -> bool:
        return True


class Contacts:
    def __init__(self, clock: FakeClock, closed: dict[str, int]) -> None:
        self.clock, self.closed, self.commanded = clock, dict(closed), dict(closed)

    def connect(self, group: str, output: int) -> None:
        self.commanded[group] = output

    def open(self, group: str) -> None:
        self.commanded.pop(group, None)

    def closed_output(self, group: str) -> int | None:
        return self.closed.get(group)

    def reported_since(self, t: float) -> bool:
        return self.clock() >= t  # the board answers every tick


class Cabinet:
    """Output 1 charging on G1; G2 and G3 idle, both allocated to it (the car asks for more than G1 gives)."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.groups = {"G1": ReadingGroup(volts=BUS_V), "G2": ReadingGroup(), "G3": ReadingGroup()}
        self.port = PortGroups((150.0, 1000.0))
        self.port.switch_on()
        self.port.join("G1", self.groups["G1"])
        self.port.set_output(TARGET_V, 120.0)
        connector = FakeConnector(1, state="charging", volts=BUS_V, closed=True)
        self.plant = LiveMovePlant({1: connector}, {1: self.port}, self.groups, port_current_a=lambda o: 120.0,
                                   clock=self.clock)
        self.plant.volts_for_limit = {1: BUS_V}
        self.contacts = Contacts(self.clock, {"G1": 1})
        ratings = [GroupRating(g, 90_000.0, 300.0, frozenset({1})) for g in self.groups]
        self.coordinator = SharingCoordinator(ratings, self.plant, self.contacts, clock=self.clock)
        self.demand = [PortDemand(1, True, BUS_V, 350_000.0, 500.0, 350_000.0, 500.0, 450.0)]

    def tick(self) -> None:
        self.clock.advance(PERIOD_S)
        self.coordinator.tick(self.demand, 600_000.0)

    def step_of(self, group: str) -> Step | None:
        move = self.coordinator.moves.get(group)
        return move.step_now if move is not None else None


def test_while_a_close_is_abandoned_the_receiver_holds_its_bus_and_limit_and_the_group_its_matched_voltage():
    cab = Cabinet()
    for _ in range(20):
        cab.tick()
        if cab.step_of("G2") is Step.CLOSE and cab.step_of("G3") is Step.CLOSE:
            break
    assert cab.step_of("G2") is Step.CLOSE and cab.step_of("G3") is Step.CLOSE
    assert cab.port._hold_v == BUS_V + HOLD_MARGIN_V  # held while the contacts travel (CLOSE: already tested)
    matched_v = cab.groups["G2"].setpoints[-1][0]
    limit_before = cab.coordinator.port_limits_a[1]

    cab.groups["G2"].sag_v = 40.0  # G2's reading no longer within the window: its close is abandoned
    cab.contacts.closed["G3"] = 1  # G3 lands meanwhile: it joins the port (a raise would follow, if allowed)
    g2_setpoints = len(cab.groups["G2"].setpoints)
    abandon_ticks = 0
    for _ in range(40):
        cab.tick()
        if cab.step_of("G2") is not Step.ABANDON:
            break
        abandon_ticks += 1
        # the receiver's groups (G1, and G3 once on) hold the bus: reference at most bus + margin, not the target
        assert cab.port._hold_v == BUS_V + HOLD_MARGIN_V and cab.port.contact_closing
        for name in cab.port.members:
            assert cab.groups[name].setpoints[-1][0] <= BUS_V + HOLD_MARGIN_V, name
        # its limit is not raised while a contact may still land (G3's arrival waits)
        assert cab.coordinator.port_limits_a[1] <= limit_before + 1e-9
        # the abandoned group: the matched voltage, no current, commanded every step
        new = cab.groups["G2"].setpoints[g2_setpoints:]
        assert new and all(sp == (matched_v, 0.0) for sp in new), new
        g2_setpoints = len(cab.groups["G2"].setpoints)
    assert "G3" in cab.port.members  # it landed during the abandon: the hold covered it too
    assert abandon_ticks * PERIOD_S >= 0.2  # the contact's bound (contact_s) was held, not cut short
    assert cab.step_of("G2") is Step.MATCH  # its feedback shows it open: matched again, the hold ends
    assert cab.port._hold_v is None and cab.groups["G1"].setpoints[-1][0] == TARGET_V
    assert cab.coordinator.port_limits_a[1] > limit_before  # and now G3's share is given
