"""Random streams of arrivals, departures, external limit changes and lost groups on the nevi-shared layout in
the model: no matrix contact is ever switched under load, the ports' limits never add up to more than the
budget, no group carries more than its rating, and every car that stays gets its floor once things settle."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.bench.sharing_model import GROUPS, OUTPUTS, SITE_W, ModelCabinet

pytestmark = pytest.mark.timeout(300)

EVENTS = st.lists(st.tuples(st.sampled_from(["arrive", "leave", "limit", "lose"]), st.sampled_from(OUTPUTS),
                            st.sampled_from([400.0, 650.0, 780.0]), st.sampled_from([100.0, 250.0, 350.0]),
                            st.sampled_from([0.05, 0.3, 1.0])), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS, st.sampled_from([math.inf, 450_000.0, 250_000.0]))
def test_random_streams_never_switch_under_load_nor_exceed_the_budget(events, limit_w):
    cab = ModelCabinet()
    for output in (1, 2, 3):  # three cars with every group in use: most events move groups that carry current
        cab.plug(output)
    cab.run(2.0)
    lost = 0
    for kind, output, volts, request, wait in events:
        car = cab.plant.outputs[output].car
        if kind == "arrive" and car is None:
            cab.plug(output, battery_v=volts, request_a=request)
        elif kind == "leave" and car is not None:
            car.stopped = True  # the session ends: the current ramps down, then the car is unplugged
            cab.run(0.5)
            cab.plant.outputs[output].car = None
        elif kind == "limit":
            cab.external_w = limit_w
        elif kind == "lose" and lost < 2:
            group = GROUPS[(output * 3) % len(GROUPS)]
            cab.plant._group(group).max_current_a = 0.0
            cab.coordinator.group_failed(group)
            lost += 1
        cab.run(wait)
    cab.run(3.0)
    assert all(total <= budget + 1.0 for total, budget in zip(cab.limit_sums_w, cab.budgets_w))
    assert cab.board.under_load_count == 0, [s for s in cab.board.switchings if s.under_load]
    assert all(g.current_a <= g.max_current_a + 1e-6 for g in cab.plant.groups)
    assert cab.limit_sums_w[-1] <= min(SITE_W, cab.external_w) + 1.0
    floors = sum(min(150_000.0, 350.0 * max(cab.plant.port_voltage_v(o), 0.0))
                 for o in OUTPUTS if cab.plant.outputs[o].car and not cab.plant.outputs[o].car.stopped)
    if floors <= min(SITE_W, cab.external_w) and lost == 0:
        for o in OUTPUTS:
            car = cab.plant.outputs[o].car
            if car is not None and not car.stopped:
                assert cab.available_w(o) >= min(150_000.0, 350.0 * cab.plant.port_voltage_v(o)) - 1.0
