"""The coordinator on the nevi-shared layout (8 groups of 90 kW, 4 outputs, 600 kW) against the rig's matrix
board and its model of groups, outputs and cars (tools/bench/sharing_model.py puts them together; the bench
reports the same runs as figures): cars arrive, the site limit drops, a group fails; the limits never add up
to more than the budget, no contact is switched under load, every port gets 150 kW."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tools.bench import sharing_model
from tools.bench.sharing_model import OUTPUTS, SITE_W, ModelCabinet

pytestmark = pytest.mark.timeout(60)


def test_a_lone_car_gets_the_groups_it_can_use():
    cab = ModelCabinet()
    cab.plug(1)
    cab.run(3.0)
    assert len(cab.matrix.groups_on(1)) == 4  # 350 A x ~800 V = 280 kW: four groups of 90 kW
    assert cab.plant.port_current_a(1) == pytest.approx(350.0, abs=1.0)
    assert cab.board.under_load_count == 0


def test_the_fourth_car_has_150_kw_within_two_seconds_without_switching_under_load():
    cab = ModelCabinet()
    for o in (1, 2, 3):
        cab.plug(o)
    cab.run(3.0)
    assert all(cab.available_w(o) >= 150_000.0 for o in (1, 2, 3))
    assert sum(len(cab.matrix.groups_on(o)) for o in (1, 2, 3)) == 8  # every group in use
    cab.plug(4)
    took = cab.seconds_until(lambda: all(cab.available_w(o) >= 150_000.0 - 1.0 for o in OUTPUTS))
    assert took is not None and took < 2.0
    cab.run(1.0)
    assert [len(cab.matrix.groups_on(o)) for o in OUTPUTS] == [2, 2, 2, 2]
    assert cab.plant.port_current_a(4) * cab.plant.port_voltage_v(4) >= 150_000.0
    assert cab.board.under_load_count == 0
    assert max(cab.limit_sums_w) <= SITE_W + 1.0
    assert all(not out.stops for out in cab.plant.outputs.values())


def test_a_400_v_car_arriving_gets_all_it_can_take():
    cab = ModelCabinet()
    for o in (1, 2, 3):
        cab.plug(o)
    cab.run(3.0)
    cab.plug(4, battery_v=400.0)
    cab.run(2.0)
    assert cab.plant.port_current_a(4) == pytest.approx(350.0, abs=1.0)  # its cable's 350 A: 140 kW
    assert cab.board.under_load_count == 0


def test_a_lower_site_limit_takes_effect_within_the_cars_follow_time():
    cab = ModelCabinet()
    for o in OUTPUTS:
        cab.plug(o)
    cab.run(3.0)
    cab.external_w = 300_000.0
    changed = cab.clock()
    cab.run(2.0)
    over = [t for t, w in cab.drawn_w if t > changed and w > 300_000.0 * 1.02]
    assert over and max(over) - changed <= 1.0  # the cars take 0.2 s to follow; held within 1 s
    assert cab.drawn_w[-1][1] <= 300_000.0 + 1.0
    assert max(cab.limit_sums_w[-100:]) <= 300_000.0 + 1.0
    assert cab.board.under_load_count == 0


def test_a_failed_group_is_dropped_and_its_share_goes_to_the_others():
    cab = ModelCabinet()
    cab.plug(1)
    cab.plug(2)
    cab.run(3.0)
    lost = cab.matrix.groups_on(1)[0]
    cab.plant._group(lost).max_current_a = 0.0  # its modules stop delivering
    cab.coordinator.group_failed(lost)
    cab.run(3.0)
    assert cab.matrix.closed_output(lost) is None
    assert len(cab.matrix.groups_on(1)) == 3 and cab.available_w(1) >= 150_000.0
    assert cab.board.under_load_count == 0


def test_the_bench_figures_and_their_goals():
    figure = sharing_model.run_sharing_times(quick=True)
    rows = sharing_model.goals(figure)
    assert [row["met"] for row in rows] == [True, True, True], rows
    assert figure["fourth_car_s"]["seconds"] < 2.0 and figure["site_limit_s"]["above_2_percent_s"] <= 1.0
    assert sharing_model.goals({"status": "error", "reason": "boom"})[0]["verdict"] == "not measured"


def test_a_donor_car_that_ignores_its_lower_limit_is_stopped_and_no_group_is_overloaded():
    cab = ModelCabinet()
    cars = [cab.plug(o) for o in (1, 2, 3)]
    cab.run(3.0)
    for car in cars:
        car.follows = False
    cab.plug(4)
    cab.run(5.0)
    stopped = [o for o in OUTPUTS if cab.plant.outputs[o].stops]
    assert stopped and all(cab.plant.outputs[o].stops[0][0] == "EV_LIMIT_NOT_FOLLOWED" for o in stopped)
    assert cab.board.under_load_count == 0
    assert all(g.current_a <= g.max_current_a + 1e-6 for g in cab.plant.groups)
    assert cab.available_w(4) >= 150_000.0


def test_a_move_still_matching_follows_a_new_allocation_instead_of_closing_onto_a_port_that_no_longer_wants_it():
    from controller.power_sharing.group_move import Step
    cab = ModelCabinet()
    cab.plug(1)
    cab.run(3.0)
    cab.plant.may_receive = lambda output: output != 2  # port 2's bus is not ready: its moves wait in MATCH
    cab.plug(2)
    cab.run(0.3)
    waiting = {name: move for name, move in cab.coordinator.moves.items() if move.receiver == 2}
    assert waiting and all(move.step_now is Step.MATCH for move in waiting.values())
    cab.plant.outputs[2].car = None  # the car leaves before they could close: the allocation changes
    cab.run(1.0)
    assert not any(move.receiver == 2 for move in cab.coordinator.moves.values())
    assert cab.matrix.groups_on(2) == [] and not (set(waiting) & cab.coordinator.failed)
    assert cab.board.under_load_count == 0


def test_a_limit_a_move_left_behind_is_replaced_by_the_allocation_in_force_at_the_next_tick():
    cab = ModelCabinet()
    car = cab.plug(1)
    cab.run(3.0)
    steady = cab.coordinator.port_limits_a[1]
    cab.plant.set_port_limit_a(1, 90.0)  # what a move that ended set from the allocation of its start
    cab.run(0.01)
    assert car.limit_a == steady > 90.0


def test_a_port_s_limit_does_not_rise_while_another_group_is_matching_or_closing_onto_it():
    """A raised limit raises the car's current and the bus voltage (I x R): it must not happen while a group's
    contact is closing onto that output. The coordinator counts an arriving group only once it is on, so the
    limit waits for the close. (Checked while suspecting it of the late close of the estop run on nevi-shared;
    that one has another cause: the receiving car ending its session, see test_power_sharing_scenarios.py.)"""
    from controller.power_sharing.group_move import Step
    cab = ModelCabinet()
    cab.plug(1)  # a lone car: four groups come to output 1, one after the other finishing
    previous, rises_while_closing = 0.0, []
    for _ in range(300):
        cab.run(0.01)
        limit = cab.coordinator.port_limits_a.get(1, 0.0)
        closing = [m for m in cab.coordinator.moves.values()
                   if m.receiver == 1 and m.step_now in (Step.MATCH, Step.CLOSE)]
        if closing and limit > previous + 1e-6:
            rises_while_closing.append((round(cab.clock(), 2), previous, limit))
        previous = limit
    assert rises_while_closing == []
    assert len(cab.matrix.groups_on(1)) == 4 and cab.board.under_load_count == 0  # all came, in the end


class DeratedCabinet(ModelCabinet):
    """The model cabinet whose ports' cables may be hot: each port's temperature derating (the safety
    supervisor's connector_derating on a real connector) goes into its demand."""

    def __init__(self) -> None:
        super().__init__()
        self.derating = {o: 1.0 for o in OUTPUTS}

    def demands(self):
        return [replace(p, derating=self.derating[p.output]) for p in super().demands()]


def test_a_hot_cable_gives_a_group_to_a_port_that_lacks_power_and_its_own_power_follows_the_derating():
    cab = DeratedCabinet()
    for o in (1, 2, 3):
        cab.plug(o, request_a=500.0)
    cab.run(3.0)
    assert sorted(len(cab.matrix.groups_on(o)) for o in (1, 2, 3)) == [2, 3, 3]
    hot = max((1, 2, 3), key=lambda o: (len(cab.matrix.groups_on(o)), -o))  # a port with three groups
    lacking = [o for o in (1, 2, 3) if len(cab.matrix.groups_on(o)) == 2]
    cab.derating[hot] = 0.3
    cab.run(3.0)
    assert len(cab.matrix.groups_on(hot)) == 2 and len(cab.matrix.groups_on(lacking[0])) == 3
    drawn = cab.plant.port_current_a(hot) * cab.plant.port_voltage_v(hot)
    assert drawn <= 0.3 * 350_000.0 + 1.0  # the derated share of its cable's 350 kW
    assert cab.board.under_load_count == 0 and max(cab.limit_sums_w) <= SITE_W + 1.0
    assert all(not out.stops for out in cab.plant.outputs.values())


def test_a_failed_group_that_returns_is_used_again_without_switching_under_load():
    from controller.power_sharing.group_return import GroupReturn
    cab = ModelCabinet()
    for o in (1, 2, 3):
        cab.plug(o)
    cab.run(3.0)
    assert sum(len(cab.matrix.groups_on(o)) for o in (1, 2, 3)) == 8  # every group in use
    lost = cab.matrix.groups_on(1)[0]
    cab.plant._group(lost).max_current_a = 0.0  # its modules stop delivering
    cab.coordinator.group_failed(lost)
    returns = GroupReturn(1.0, clock=cab.clock)
    returns.dropped(lost, 1)
    cab.run(3.0)
    assert cab.matrix.closed_output(lost) is None and sum(len(cab.matrix.groups_on(o)) for o in (1, 2, 3)) == 7
    cab.plant._group(lost).max_current_a = 300.0  # healthy again
    for _ in range(300):  # the live wiring's order: the return first, then the coordinator's tick
        for group in returns.due(cab.coordinator.failed, healthy=lambda g: True, emergency_latched=lambda o: False,
                                 where=cab.matrix.closed_output):
            cab.coordinator.group_returned(group)
        cab.run(0.01)
    assert lost not in cab.coordinator.failed and cab.matrix.closed_output(lost) in (1, 2, 3)
    assert sum(len(cab.matrix.groups_on(o)) for o in (1, 2, 3)) == 8
    assert cab.board.under_load_count == 0 and max(cab.limit_sums_w) <= SITE_W + 1.0
    assert all(not out.stops for out in cab.plant.outputs.values())
