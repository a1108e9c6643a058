"""The allocator: examples on the nevi-shared cabinet (8 groups of 90 kW, 4 outputs, 600 kW) and properties
over random cabinets, demands and previous allocations."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.power_sharing.allocator import Allocation, GroupRating, PortDemand, allocate

pytestmark = pytest.mark.timeout(60)

ALL = frozenset({1, 2, 3, 4})
SITE_W = 600_000.0


def nevi_groups(**overrides) -> list[GroupRating]:
    return [GroupRating(f"G{i}", 90_000.0, 300.0, overrides.get(f"G{i}", ALL)) for i in range(1, 9)]


def car(output: int, *, volts: float = 800.0, max_kw: float = 350.0, max_a: float = 500.0,
        request_a: float | None = None, cable_a: float = 350.0, derating: float = 1.0) -> PortDemand:
    return PortDemand(output, True, volts, 350_000.0, cable_a, max_kw * 1000.0, max_a, request_a, derating=derating)


def empty(output: int) -> PortDemand:
    return PortDemand(output, False, 0.0, 350_000.0, 350.0)


def total(allocation: Allocation) -> float:
    return sum(allocation.port_limit_w.values())


def test_a_lone_car_gets_what_it_and_its_cable_accept():
    ports = [car(1), empty(2), empty(3), empty(4)]
    result = allocate(ports, nevi_groups(), SITE_W)
    assert result.port_limit_w[1] == pytest.approx(280_000.0)  # 350 A cable x 800 V
    assert len(result.groups_on(1)) == 4  # 4 x 90 kW cover 280 kW
    assert result.port_limit_w[2] == 0.0


def test_four_cars_each_get_the_nevi_floor_and_the_site_limit_holds():
    ports = [car(o) for o in (1, 2, 3, 4)]
    result = allocate(ports, nevi_groups(), SITE_W)
    assert all(result.port_limit_w[o] >= 150_000.0 for o in (1, 2, 3, 4))
    assert total(result) <= SITE_W + 1e-6
    assert all(len(result.groups_on(o)) == 2 for o in (1, 2, 3, 4))


def test_a_fourth_car_takes_groups_from_the_ports_that_have_more_than_their_share():
    three = [car(1), car(2), car(3), empty(4)]
    before = allocate(three, nevi_groups(), SITE_W)
    assert not before.groups_on(4)
    after = allocate([car(1), car(2), car(3), car(4)], nevi_groups(), SITE_W, previous=before.groups)
    assert after.port_limit_w[4] >= 150_000.0 and len(after.groups_on(4)) == 2
    moved = [g for g in after.groups if after.groups[g] != before.groups[g]]
    assert len(moved) == 2  # only what the newcomer needs moves


def test_a_small_car_keeps_a_floor_of_what_it_can_take_and_leaves_the_rest():
    ports = [car(1, volts=400.0, max_kw=50.0, max_a=125.0), car(2), empty(3), empty(4)]
    result = allocate(ports, nevi_groups(), SITE_W)
    assert result.port_limit_w[1] == pytest.approx(50_000.0)
    assert result.port_limit_w[2] == pytest.approx(280_000.0)


def test_the_present_request_directs_the_surplus():
    ports = [car(1, request_a=100.0), car(2, request_a=400.0), empty(3), empty(4)]
    result = allocate(ports, nevi_groups(), 400_000.0)
    # floors 150 kW each; car 1 asks 80 kW (below its floor), car 2 the rest of the budget up to its 280 kW
    assert result.shares_w[1] == pytest.approx(150_000.0)
    assert result.shares_w[2] == pytest.approx(250_000.0)
    assert total(result) <= 400_000.0 + 1e-6


def test_an_external_limit_below_the_site_limit_wins():
    ports = [car(o) for o in (1, 2, 3, 4)]
    result = allocate(ports, nevi_groups(), SITE_W, external_limit_w=300_000.0)
    assert total(result) <= 300_000.0 + 1e-6
    assert all(result.port_limit_w[o] == pytest.approx(75_000.0) for o in (1, 2, 3, 4))


def test_temperature_derating_of_a_port_and_of_a_group():
    hot_port = allocate([car(1, derating=0.5), empty(2), empty(3), empty(4)], nevi_groups(), SITE_W)
    assert hot_port.port_limit_w[1] == pytest.approx(140_000.0)
    groups = [GroupRating(g.name, g.max_power_w, g.max_current_a, g.outputs, derating=0.5) for g in nevi_groups()]
    hot_groups = allocate([car(1), empty(2), empty(3), empty(4)], groups, SITE_W)
    assert hot_groups.port_limit_w[1] == pytest.approx(280_000.0) and len(hot_groups.groups_on(1)) == 7


def test_a_hot_cable_gets_fewer_groups_and_the_freed_group_goes_to_a_port_that_lacks_power():
    def ports(derating: float) -> list[PortDemand]:  # three cars that could take 350 kW each (500 A cables)
        return [car(1, cable_a=500.0, derating=derating), car(2, cable_a=500.0), car(3, cable_a=500.0), empty(4)]
    cool = allocate(ports(1.0), nevi_groups(), SITE_W)
    assert [len(cool.groups_on(o)) for o in (1, 2, 3)] == [3, 3, 2]
    hot = allocate(ports(0.3), nevi_groups(), SITE_W, previous=cool.groups)
    assert hot.port_limit_w[1] == pytest.approx(0.3 * 350_000.0)  # its cable's temperature derating
    assert [len(hot.groups_on(o)) for o in (1, 2, 3)] == [2, 3, 3]  # one of its groups went to port 3
    moved = [g for g in hot.groups if hot.groups[g] != cool.groups[g]]
    assert len(moved) == 1 and cool.groups[moved[0]] == 1 and hot.groups[moved[0]] == 3
    assert hot.port_limit_w[3] > cool.port_limit_w[3] and total(hot) <= SITE_W + 1e-6


def test_a_failed_group_is_dropped_and_replaced():
    first = allocate([car(1), car(2), car(3), car(4)], nevi_groups(), SITE_W)
    lost = first.groups_on(1)[0]
    groups = [GroupRating(g.name, g.max_power_w, g.max_current_a, g.outputs, healthy=g.name != lost)
              for g in nevi_groups()]
    again = allocate([car(1), car(2), car(3), car(4)], groups, SITE_W, previous=first.groups)
    assert again.groups[lost] is None
    # 7 groups of 90 kW for 4 ports: one port is left with one group, the others keep their floor
    assert sorted(round(again.port_limit_w[o]) for o in (1, 2, 3, 4)) == [90_000, 170_000, 170_000, 170_000]


def test_a_group_only_goes_where_it_may():
    groups = nevi_groups(G1=frozenset({1}), G2=frozenset({1}), G3=frozenset({2}), G4=frozenset({2}),
                         G5=frozenset({3}), G6=frozenset({3}), G7=frozenset({4}), G8=frozenset({4}))
    result = allocate([car(1), empty(2), empty(3), empty(4)], groups, SITE_W)
    assert result.groups_on(1) == ["G1", "G2"] and result.port_limit_w[1] == pytest.approx(180_000.0)


def test_small_changes_of_demand_move_no_group():
    first = allocate([car(1, request_a=300.0), car(2, request_a=100.0), empty(3), empty(4)], nevi_groups(), SITE_W)
    for request in (290.0, 305.0, 296.0, 310.0):
        again = allocate([car(1, request_a=request), car(2, request_a=100.0), empty(3), empty(4)], nevi_groups(),
                         SITE_W, previous=first.groups)
        assert again.groups == first.groups


# ---- properties ---------------------------------------------------------------------------------------------
OUTPUTS = (1, 2, 3, 4)


@st.composite
def situations(draw, full_matrix: bool = False, equal_groups: bool = False):
    n_groups = draw(st.integers(1, 12))
    groups = []
    for i in range(n_groups):
        outputs = ALL if full_matrix else frozenset(draw(st.sets(st.sampled_from(OUTPUTS), min_size=1)))
        power = 90_000.0 if equal_groups else draw(st.sampled_from([30_000.0, 60_000.0, 90_000.0, 120_000.0]))
        healthy = True if equal_groups else draw(st.booleans() | st.just(True))
        derating = 1.0 if equal_groups else draw(st.sampled_from([1.0, 1.0, 0.7, 0.0]))
        groups.append(GroupRating(f"G{i + 1}", power, power / 300.0, outputs, healthy, derating))
    ports = []
    for o in OUTPUTS:
        if not draw(st.booleans()):
            ports.append(empty(o))
            continue
        volts = draw(st.sampled_from([300.0, 400.0, 650.0, 800.0]))
        request = draw(st.none() | st.floats(0.0, 600.0))
        ports.append(car(o, volts=volts, max_kw=draw(st.sampled_from([50.0, 150.0, 250.0, 350.0])),
                         max_a=draw(st.sampled_from([125.0, 300.0, 500.0])), request_a=request,
                         cable_a=draw(st.sampled_from([200.0, 350.0, 400.0])),
                         derating=draw(st.sampled_from([1.0, 1.0, 0.5]))))
    site = draw(st.sampled_from([100_000.0, 300_000.0, 600_000.0, 1_000_000.0]))
    external = draw(st.sampled_from([math.inf, math.inf, 200_000.0, 450_000.0]))
    previous = {g.name: draw(st.none() | st.sampled_from(OUTPUTS)) for g in groups}
    return ports, groups, site, external, previous


@settings(max_examples=300, deadline=None)
@given(situations())
def test_the_site_limit_and_the_groups_bound_every_port(situation):
    ports, groups, site, external, previous = situation
    result = allocate(ports, groups, site, external, previous)
    assert total(result) <= min(site, external) + 1e-6
    rating = {g.name: g for g in groups}
    for p in ports:
        carried = sum(rating[g].gives_w(p.voltage_v) for g in result.groups_on(p.output))
        assert result.port_limit_w[p.output] <= min(carried, p.could_take_w()) + 1e-6
        assert p.active or result.port_limit_w[p.output] == 0.0


@settings(max_examples=300, deadline=None)
@given(situations())
def test_a_group_is_on_one_permitted_output_at_most_and_never_when_failed(situation):
    ports, groups, site, external, previous = situation
    result = allocate(ports, groups, site, external, previous)
    assert set(result.groups) == {g.name for g in groups}  # one entry per group: never two outputs
    for g in groups:
        where = result.groups[g.name]
        assert where is None or where in g.outputs
        assert g.healthy or where is None


@settings(max_examples=300, deadline=None)
@given(situations())
def test_an_unchanged_input_gives_the_same_allocation(situation):
    ports, groups, site, external, previous = situation
    first = allocate(ports, groups, site, external, previous)
    second = allocate(ports, groups, site, external, first.groups)
    assert second == first


@settings(max_examples=300, deadline=None)
@given(situations(full_matrix=True, equal_groups=True))
def test_the_nevi_floor_holds_whenever_it_is_feasible(situation):
    ports, groups, site, external, previous = situation
    budget = min(site, external)
    floors = {p.output: min(150_000.0, p.could_take_w()) for p in ports if p.active}
    needed = sum(math.ceil(f / groups[0].gives_w(next(p.voltage_v for p in ports if p.output == o)) - 1e-9)
                 for o, f in floors.items() if f > 0)
    if sum(floors.values()) > budget or needed > len(groups):
        return  # not feasible: nothing to hold
    result = allocate(ports, groups, site, external, previous)
    for o, floor in floors.items():
        assert result.port_limit_w[o] >= floor - 1.0
