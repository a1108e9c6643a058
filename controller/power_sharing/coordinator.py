"""Turns allocations into group moves and keeps every port's limit within what is really on it.

Every control period `tick(ports, site_limit_w, external_limit_w)`:
1. decides with the allocator, from the allocation being carried out (so hysteresis holds across moves);
2. starts a `GroupMove` for each group that is not where the allocation wants it and is not moving already
   (moves of different groups run side by side);
3. advances the moves; a move that FAILED takes its group out of the allocation (`failed` groups), and the next
   decision redistributes without it;
4. tells each port's car its limit, every tick (after the moves, so a limit a move set from the allocation of
   its start is replaced at once): the allocated power, but never more than the groups that are on the port
   and staying there can carry (a leaving group no longer counts, an arriving one counts once it is on), so the
   limits never add up to more than the budget and no group is asked for more than its rating. A port onto
   which a contact is closing keeps its limit (never raised) until the contact has landed.

While the matrix board is lost (MATRIX_BOARD_LOST) `board_silent()` runs instead: nothing is decided or started
and no limit changes; only the moves waiting for their contact are stepped: a close is abandoned at once, and a
move whose board stays silent ends safely (group_move.py, "A silent board").

No I/O of its own: it commands through the MovePlant and the matrix driver that the moves use.
"""
from __future__ import annotations

import math
from typing import Callable

from controller.power_sharing.allocator import Allocation, GroupRating, PortDemand, allocate
from controller.power_sharing.group_move import TRAVELLING, GroupMove, MatrixContacts, MovePlant, MoveTiming, Step

MIN_VOLTS = 50.0  # a port below this (no car yet) gets its limit in amps from this voltage


class SharingCoordinator:
    def __init__(self, groups: list[GroupRating], plant: MovePlant, matrix: MatrixContacts, *,
                 clock: Callable[[], float], timing: MoveTiming = MoveTiming(),
                 nevi_floor_w: float = 150_000.0, hysteresis_w: float = 10_000.0):
        self.ratings = {g.name: g for g in groups}
        self.plant, self.matrix, self.clock, self.timing = plant, matrix, clock, timing
        self.nevi_floor_w, self.hysteresis_w = nevi_floor_w, hysteresis_w
        self.failed: set[str] = set()
        self.moves: dict[str, GroupMove] = {}
        self.finished: list[GroupMove] = []
        self.allocation: Allocation | None = None
        self.port_limits_a: dict[int, float] = {}
        self._target: dict[str, int | None] = {g: matrix.closed_output(g) for g in self.ratings}

    def group_failed(self, group: str) -> None:
        """A group whose modules failed: dropped from the allocation (its contact opens once it carries nothing)."""
        self.failed.add(group)

    def group_returned(self, group: str) -> None:
        """A dropped group healthy again (controller/power_sharing/group_return.py): the next decision may use it."""
        self.failed.discard(group)

    def target_of(self, group: str) -> int | None:
        """The output the allocation in force wants the group on (None: idle)."""
        return self._target.get(group)

    def where(self, group: str) -> int | None:
        return self.matrix.closed_output(group)

    def tick(self, ports: list[PortDemand], site_limit_w: float, external_limit_w: float = math.inf) -> Allocation:
        ratings = [GroupRating(g.name, g.max_power_w, g.max_current_a, g.outputs,
                               g.healthy and g.name not in self.failed, g.derating) for g in self.ratings.values()]
        active = {p.output for p in ports if p.active}
        # a group still matching towards a port whose car has gone is free again (its contact never closed)
        previous = {g: (None if g in self.moves and self.moves[g].step_now is Step.MATCH and t not in active else t)
                    for g, t in self._target.items()}
        self.allocation = allocate(ports, ratings, site_limit_w, external_limit_w, previous,
                                   nevi_floor_w=self.nevi_floor_w, hysteresis_w=self.hysteresis_w)
        self._target = dict(self.allocation.groups)
        volts = {p.output: max(p.voltage_v, MIN_VOLTS) for p in ports}
        limits = self._limits_a(ports, volts)
        for name, output in self._target.items():
            move = self.moves.get(name)
            if move is not None and move.step_now is Step.MATCH and move.receiver != output:
                del self.moves[name]  # its contact is open: it goes where the allocation wants it now
                if output is None:
                    self.plant.hand_over(name, None)  # off again, matched for nothing
            if name in self.moves or self.where(name) == output:
                continue
            donor = self.where(name)
            self.moves[name] = GroupMove(
                name, donor, output, self.plant, self.matrix, clock=self.clock, timing=self.timing,
                donor_limit_a=limits.get(donor, 0.0) if donor is not None else 0.0,
                receiver_limit_a=self._after_arrival_a(output, name, volts) if output is not None else 0.0)
        self._advance(self.moves)
        # every tick, after the moves: a limit a move set when it started or ended (from the allocation of its
        # start) never outlives the allocation in force; groups that arrived count, leaving ones do not
        limits = self._limits_a(ports, volts)
        # no raise while a contact travels onto the port: its car would draw more and lift the voltage (I x R)
        # under the landing contact; the raise follows the landing
        for output in {m.receiver for m in self.moves.values() if m.step_now in TRAVELLING}:
            if output in limits and output in self.port_limits_a:
                limits[output] = min(limits[output], self.port_limits_a[output])
        for output, amps in limits.items():
            self.plant.set_port_limit_a(output, amps)
        self.port_limits_a = limits
        return self.allocation

    def board_silent(self) -> None:
        """The matrix board is lost: moves whose contact is opening or travelling are stepped (a close is
        abandoned, a silence past their bound ends them safely); the others wait as they are."""
        waiting = {name: m for name, m in self.moves.items() if m.step_now is Step.OPEN or m.step_now in TRAVELLING}
        for move in waiting.values():
            move.board_lost()
        self._advance(waiting)

    def _advance(self, moves: dict[str, GroupMove]) -> None:
        for name, move in list(moves.items()):
            move.step()
            if move.finished:
                del self.moves[name]
                self.finished.append(move)
                if move.step_now is Step.FAILED:
                    self.failed.add(name)

    def _staying(self, output: int) -> list[str]:
        """Groups on `output` now that are not on their way elsewhere."""
        return [g for g in self.ratings if self.where(g) == output and self._target.get(g) == output
                and g not in self.moves and g not in self.failed]

    def _limits_a(self, ports: list[PortDemand], volts: dict[int, float]) -> dict[int, float]:
        limits = {}
        for p in ports:
            carried = sum(self.ratings[g].gives_w(volts[p.output]) for g in self._staying(p.output))
            watts = min(self.allocation.port_limit_w.get(p.output, 0.0), carried)
            limits[p.output] = watts / volts[p.output] if p.active else 0.0
        return limits

    def _after_arrival_a(self, output: int, arriving: str, volts: dict[int, float]) -> float:
        groups = [*self._staying(output), arriving]
        carried = sum(self.ratings[g].gives_w(volts[output]) for g in groups)
        return min(self.allocation.port_limit_w.get(output, 0.0), carried) / volts[output]
