"""The coordinator on the nevi-shared layout (8 groups of 90 kW, 4 outputs, 600 kW) against the rig's matrix
board and its model of groups, outputs and cars: cars arrive, the site limit drops, a group fails; the limits
never add up to more than the budget, no contact is switched under load, every port gets 150 kW."""
from __future__ import annotations

import math

import pytest

from controller.power_sharing.allocator import GroupRating, PortDemand
from controller.power_sharing.coordinator import SharingCoordinator
from hil.sim.shared_outputs import SimCar
from tests.power_sharing.move_rig import TICK_S, MoveRig

pytestmark = pytest.mark.timeout(60)

GROUPS = tuple(f"G{i}" for i in range(1, 9))
OUTPUTS = (1, 2, 3, 4)
SITE_W = 600_000.0


class Cabinet:
    """The rig plus a coordinator ticked every period, with a record of the limits and the power drawn."""

    def __init__(self) -> None:
        self.rig = MoveRig({}, groups=GROUPS, outputs=OUTPUTS)
        ratings = [GroupRating(g, 90_000.0, 300.0, frozenset(OUTPUTS)) for g in GROUPS]
        self.coordinator = SharingCoordinator(ratings, self.rig.plant, self.rig.matrix, clock=self.rig.clock)
        self.external_w = math.inf
        self.limit_sums_w: list[float] = []
        self.drawn_w: list[tuple[float, float]] = []  # (t, total power drawn)
        self.rig.every_tick.append(self._tick)

    def _demands(self) -> list[PortDemand]:
        out = []
        for o in OUTPUTS:
            car = self.rig.plant.outputs[o].car
            if car is None or car.stopped:
                out.append(PortDemand(o, False, 0.0, 350_000.0, 350.0))
            else:
                volts = max(self.rig.plant.port_voltage_v(o), car.battery_v)
                out.append(PortDemand(o, True, volts, 350_000.0, 350.0, 350_000.0, 500.0, car.request_a))
        return out

    def _tick(self) -> None:
        demands = self._demands()
        self.coordinator.tick(demands, SITE_W, self.external_w)
        volts = {p.output: max(p.voltage_v, 50.0) for p in demands}
        self.limit_sums_w.append(sum(a * volts[o] for o, a in self.coordinator.port_limits_a.items()))
        self.drawn_w.append((self.rig.clock(), sum(self.rig.plant.port_current_a(o) * self.rig.plant.port_voltage_v(o)
                                                   for o in OUTPUTS)))

    def plug(self, output: int, battery_v: float = 780.0, request_a: float = 350.0) -> SimCar:
        car = SimCar(battery_v=battery_v, request_a=request_a)
        self.rig.plant.outputs[output].car = car
        return car

    def available_w(self, output: int) -> float:
        return self.coordinator.port_limits_a.get(output, 0.0) * self.rig.plant.port_voltage_v(output)

    def seconds_until(self, condition, bound_s: float = 10.0) -> float:
        started = self.rig.clock()
        for _ in range(round(bound_s / TICK_S)):
            if condition():
                return self.rig.clock() - started
            self.rig.run(TICK_S)
        raise AssertionError(f"not within {bound_s} s")


def test_a_lone_car_gets_the_groups_it_can_use():
    cab = Cabinet()
    cab.plug(1)
    cab.rig.run(3.0)
    assert len(cab.rig.matrix.groups_on(1)) == 4  # 350 A x ~800 V = 280 kW: four groups of 90 kW
    assert cab.rig.plant.port_current_a(1) == pytest.approx(350.0, abs=1.0)
    assert cab.rig.board.under_load_count == 0


def test_the_fourth_car_has_150_kw_within_two_seconds_without_switching_under_load():
    cab = Cabinet()
    for o in (1, 2, 3):
        cab.plug(o)
    cab.rig.run(3.0)
    assert all(cab.available_w(o) >= 150_000.0 for o in (1, 2, 3))
    assert sum(len(cab.rig.matrix.groups_on(o)) for o in (1, 2, 3)) == 8  # every group in use
    cab.plug(4)
    took = cab.seconds_until(lambda: all(cab.available_w(o) >= 150_000.0 - 1.0 for o in OUTPUTS))
    assert took < 2.0
    cab.rig.run(1.0)
    assert [len(cab.rig.matrix.groups_on(o)) for o in OUTPUTS] == [2, 2, 2, 2]
    assert cab.rig.plant.port_current_a(4) * cab.rig.plant.port_voltage_v(4) >= 150_000.0
    assert cab.rig.board.under_load_count == 0
    assert max(cab.limit_sums_w) <= SITE_W + 1.0
    assert all(not out.stops for out in cab.rig.plant.outputs.values())


def test_a_400_v_car_arriving_gets_all_it_can_take():
    cab = Cabinet()
    for o in (1, 2, 3):
        cab.plug(o)
    cab.rig.run(3.0)
    cab.plug(4, battery_v=400.0)
    cab.rig.run(2.0)
    assert cab.rig.plant.port_current_a(4) == pytest.approx(350.0, abs=1.0)  # its cable's 350 A: 140 kW
    assert cab.rig.board.under_load_count == 0


def test_a_lower_site_limit_takes_effect_within_the_cars_follow_time():
    cab = Cabinet()
    for o in OUTPUTS:
        cab.plug(o)
    cab.rig.run(3.0)
    cab.external_w = 300_000.0
    changed = cab.rig.clock()
    cab.rig.run(2.0)
    over = [t for t, w in cab.drawn_w if t > changed and w > 300_000.0 * 1.02]
    assert over and max(over) - changed <= 1.0  # the cars take 0.2 s to follow; held within 1 s
    assert cab.drawn_w[-1][1] <= 300_000.0 + 1.0
    assert cab.rig.board.under_load_count == 0


def test_a_failed_group_is_dropped_and_its_share_goes_to_the_others():
    cab = Cabinet()
    cab.plug(1)
    cab.plug(2)
    cab.rig.run(3.0)
    lost = cab.rig.matrix.groups_on(1)[0]
    cab.rig.plant._group(lost).max_current_a = 0.0  # its modules stop delivering
    cab.coordinator.group_failed(lost)
    cab.rig.run(3.0)
    assert cab.rig.matrix.closed_output(lost) is None
    assert len(cab.rig.matrix.groups_on(1)) == 3 and cab.available_w(1) >= 150_000.0
    assert cab.rig.board.under_load_count == 0
