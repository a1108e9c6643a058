"""Which module group serves which output, and how much power each port may draw: a pure function, no I/O.

Inputs: every port's demand (its car's maximum power and current, present request, voltage, SoC), its cable
limits and temperature derating, every group's rating and derating, which outputs each group may reach, the
site limit, an external limit (later: OCPP charging profiles) and the allocation in force.

Rules, in order:
1. The budget is min(site limit, external limit); the ports' power limits never add up to more.
2. NEVI (23 CFR 680.106): every active port gets its floor, min(150 kW, what its car and cable can take), when
   the budget and the groups allow it. Floors come first.
3. The rest of the budget goes to the ports that can use it: up to each port's present demand (water-filling,
   the smallest demand filled first), then, if budget is left, up to what the port could take, so a car that
   asks for more can ramp up without waiting for a new decision.
4. Groups follow the shares with hysteresis: a port below its floor or share takes an unused group (idle, or
   on a port without a car); it takes a group from another car's port only when below its floor or below its
   share by more than `hysteresis_w`, and only from a port that keeps its own floor (or share) without it. A group is never taken away merely because its port has
   more than it needs; the port's power limit holds the budget. So an unchanged input gives the same answer.
5. A group is only on an output it may reach, and on one output at most (the result maps group -> output).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

NEVI_FLOOR_W = 150_000.0
EPSILON_W = 1.0  # power compared within a watt (no move over rounding noise)


@dataclass(frozen=True)
class PortDemand:
    """One output and the car on it. A port without a car (active False) gets no share and gives its groups."""
    output: int
    active: bool
    voltage_v: float  # present output voltage, or the car's target before energy flows
    cable_max_power_w: float
    cable_max_current_a: float
    car_max_power_w: float = math.inf
    car_max_current_a: float = math.inf
    request_current_a: float | None = None  # the car's present target current; None: not asked yet (take its max)
    soc_pct: float | None = None  # informative: the request already follows the car's charge curve
    derating: float = 1.0  # connector temperature derating, 0..1 of the port's power

    def could_take_w(self) -> float:
        """The most this port can use: car and cable, power and current at its voltage, derated."""
        if not self.active:
            return 0.0
        volts = max(self.voltage_v, 0.0)
        limit = min(self.cable_max_power_w, self.car_max_power_w,
                    self.cable_max_current_a * volts, self.car_max_current_a * volts)
        return max(0.0, limit * min(max(self.derating, 0.0), 1.0))

    def demand_w(self) -> float:
        """What the car asks for now (its request at its voltage), never more than it could take."""
        could = self.could_take_w()
        if self.request_current_a is None:
            return could
        return min(could, max(self.request_current_a, 0.0) * max(self.voltage_v, 0.0))


@dataclass(frozen=True)
class GroupRating:
    name: str
    max_power_w: float
    max_current_a: float
    outputs: frozenset[int]  # outputs this group may reach
    healthy: bool = True  # a group that failed is dropped from the allocation
    derating: float = 1.0  # module temperature derating, 0..1

    def gives_w(self, volts: float) -> float:
        """What the group delivers into an output at `volts` (power- or current-limited), derated."""
        if not self.healthy:
            return 0.0
        return max(0.0, min(self.max_power_w, self.max_current_a * max(volts, 0.0)) * min(max(self.derating, 0.0), 1.0))


@dataclass(frozen=True)
class Allocation:
    groups: Mapping[str, int | None]  # group -> output it serves (None: idle)
    port_limit_w: Mapping[int, float]  # output -> the power its car may draw
    shares_w: Mapping[int, float] = field(default_factory=dict)  # output -> the share the groups follow

    def groups_on(self, output: int) -> list[str]:
        return sorted(g for g, o in self.groups.items() if o == output)


def allocate(ports: list[PortDemand], groups: list[GroupRating], site_limit_w: float,
             external_limit_w: float = math.inf, previous: Mapping[str, int | None] | None = None, *,
             nevi_floor_w: float = NEVI_FLOOR_W, hysteresis_w: float = 10_000.0) -> Allocation:
    budget = max(0.0, min(site_limit_w, external_limit_w))
    by_output = {p.output: p for p in ports}
    volts = {p.output: p.voltage_v for p in ports}
    active = sorted(p.output for p in ports if p.active)
    could = {o: by_output[o].could_take_w() for o in active}
    floors = {o: min(nevi_floor_w, could[o]) for o in active}
    shares = _shares(active, floors, {o: by_output[o].demand_w() for o in active}, budget)
    floors = {o: min(floors[o], shares[o]) for o in active}  # a budget below the floors scales them down

    # groups where they are, unless the group failed or the output is not one it may reach (or has no port)
    assignment: dict[str, int | None] = {}
    for g in sorted(groups, key=lambda g: g.name):
        where = (previous or {}).get(g.name)
        keep = g.healthy and where in g.outputs and where in by_output
        assignment[g.name] = where if keep else None
    rating = {g.name: g for g in groups}
    gives = {(g.name, o): g.gives_w(volts[o]) for g in groups for o in by_output}  # computed once
    _move_groups(assignment, rating, gives, active, floors, shares, hysteresis_w)

    held = {o: _held_w(assignment, gives, o) for o in active}
    limits = _limits(active, held, shares, could, budget)
    port_limit = {p.output: limits.get(p.output, 0.0) for p in ports}
    return Allocation(groups=assignment, port_limit_w=port_limit, shares_w=shares)


def _shares(active: list[int], floors: dict[int, float], demand: dict[int, float], budget: float) -> dict[int, float]:
    """Floors first (scaled down together if the budget cannot hold them), then the demand water-filled."""
    total_floor = sum(floors.values())
    if total_floor > budget:
        scale = budget / total_floor if total_floor > 0 else 0.0
        return {o: floors[o] * scale for o in active}
    shares = dict(floors)
    left = budget - total_floor
    wants = {o: max(0.0, demand[o] - shares[o]) for o in active}
    _water_fill(shares, wants, left, active)
    return shares


def _water_fill(shares: dict[int, float], wants: dict[int, float], left: float, order: list[int]) -> float:
    """Raise each port by what it wants, an equal slice at a time, the smallest wants first; returns what is left."""
    waiting = sorted((o for o in order if wants[o] > 0), key=lambda o: (wants[o], o))
    while waiting and left > 1e-9:
        slice_w = left / len(waiting)
        o = waiting[0]
        if wants[o] <= slice_w:
            shares[o] += wants[o]
            left -= wants[o]
            waiting.pop(0)
        else:
            for o in waiting:
                shares[o] += slice_w
            left = 0.0
    return left


def _held_w(assignment: Mapping[str, int | None], gives: Mapping[tuple[str, int], float], output: int) -> float:
    return sum(gives[g, output] for g, o in assignment.items() if o == output)


def _move_groups(assignment: dict[str, int | None], rating: dict[str, GroupRating],
                 gives: dict[tuple[str, int], float], active: list[int], floors: dict[int, float],
                 shares: dict[int, float], hysteresis_w: float) -> None:
    """Move groups to ports that lack them until no lacking port can get one (see rule 4). Every move lowers
    (sum of floor deficits, sum of share deficits) in order, so the loop ends; the bound is a guard."""
    active_set = set(active)
    for _ in range(4 * len(rating) * max(1, len(active)) + 8):
        move = _next_move(assignment, rating, gives, active, active_set, floors, shares, hysteresis_w)
        if move is None:
            return
        group, output = move
        assignment[group] = output
    raise RuntimeError("group allocation did not settle")  # cannot happen: each move lowers the deficits


def _next_move(assignment, rating, gives, active, active_set, floors, shares, hysteresis_w):
    held = {o: _held_w(assignment, gives, o) for o in active}
    for keep, from_ports_below in ((floors, EPSILON_W), (shares, max(hysteresis_w, EPSILON_W))):
        lacking = [o for o in active if held[o] < keep[o] - EPSILON_W]
        for o in sorted(lacking, key=lambda o: (held[o] - keep[o], o)):  # the biggest lack first
            # an unused group comes for any lack; one that serves another car only for more than the hysteresis
            take_from_ports = held[o] < keep[o] - from_ports_below
            group = _candidate(o, assignment, rating, gives, active_set, held, keep, take_from_ports)
            if group is not None:
                return group, o
    return None


def _candidate(output, assignment, rating, gives, active_set, held, keep, take_from_ports):
    """The group `output` should take: an idle one, else one on a port without a car, else (if allowed) one a
    port can give and still hold `keep` (the biggest surplus gives first). Ties go by name: deterministic."""
    idle, unused, spare = [], [], []
    for name in sorted(assignment):
        g = rating[name]
        where = assignment[name]
        if not g.healthy or output not in g.outputs or where == output or gives[name, output] <= EPSILON_W:
            continue
        if where is None:
            idle.append(name)
        elif where not in active_set:
            unused.append(name)
        elif take_from_ports:
            after = held[where] - gives[name, where]
            if after >= keep[where] - EPSILON_W:
                spare.append((-(after - keep[where]), name))
    if idle:
        return idle[0]
    if unused:
        return unused[0]
    return min(spare)[1] if spare else None


def _limits(active: list[int], held: dict[int, float], shares: dict[int, float], could: dict[int, float],
            budget: float) -> dict[int, float]:
    """Each port's power limit: its share as far as its groups carry it, then what is left of the budget to
    the ports whose groups and car could use more (rule 3), never above the budget in sum."""
    limits = {o: min(shares[o], held[o], could[o]) for o in active}
    left = budget - sum(limits.values())
    wants = {o: max(0.0, min(held[o], could[o]) - limits[o]) for o in active}
    _water_fill(limits, wants, max(0.0, left), active)
    return limits
