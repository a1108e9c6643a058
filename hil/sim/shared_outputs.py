"""A small electrical model of module groups that a matrix switches between outputs, with a car on each output.

For the power-sharing tests and, later, the rig: it answers the matrix board simulator (current through and
voltage of each group, voltage of each output; hil/sim/power_matrix.py) and plays the connectors and module
groups for a group move (controller/power_sharing/group_move.py).

Per tick: each car draws min(its request, the limit it has taken notice of), moving at most car_slew_a_per_s; a
car takes a lowered limit after its follow delay (or never: a car that does not follow). The groups on an
output that its port controls share what the moving groups do not carry, each up to its rating; a group the
move drives slews its current towards its setpoint and, while open, its voltage towards its setpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class SimGroup:
    name: str
    max_current_a: float = 300.0
    max_power_w: float = 90_000.0
    voltage_v: float = 0.0
    current_a: float = 0.0
    set_voltage_v: float = 0.0
    set_current_a: float = 0.0
    driven_by_move: bool = False
    off: bool = False  # handed to no port (switched off): on an output it carries nothing
    closing_onto: int | None = None  # the output its matrix contact is travelling to


@dataclass
class SimCar:
    battery_v: float = 780.0
    resistance_ohm: float = 0.05
    request_a: float = 300.0
    follow_delay_s: float = 0.2  # how long it takes to obey a lower limit
    follows: bool = True  # False: keeps drawing above a lowered limit
    limit_a: float = 0.0  # the limit it is told (EVSEMaximumCurrentLimit)
    obeyed_limit_a: float = 0.0  # the limit it draws by
    lowered_t: float | None = None
    stopped: bool = False  # error shutdown: the request goes to zero


@dataclass
class SimOutput:
    output: int
    car: SimCar | None = None
    voltage_v: float = 0.0
    current_a: float = 0.0
    stops: list[tuple[str, str]] = field(default_factory=list)


class SharedOutputs:
    """Groups, outputs and cars; `contacts(group_index)` tells which output a group is on (the matrix sim)."""

    def __init__(self, groups: list[SimGroup], outputs: list[SimOutput], *, clock: Callable[[], float],
                 group_slew_a_per_s: float = 600.0, group_slew_v_per_s: float = 4000.0,
                 car_slew_a_per_s: float = 600.0):
        self.groups = groups
        self.outputs = {o.output: o for o in outputs}
        self.clock = clock
        self.contacts: Callable[[int], int] = lambda index: 0
        self.group_slew_a_per_s = group_slew_a_per_s
        self.group_slew_v_per_s = group_slew_v_per_s
        self.car_slew_a_per_s = car_slew_a_per_s
        self._index = {g.name: i for i, g in enumerate(groups)}

    def _group(self, group: int | str) -> SimGroup:
        return self.groups[self._index[group]] if isinstance(group, str) else self.groups[group]

    def on_output(self, output: int) -> list[SimGroup]:
        return [g for i, g in enumerate(self.groups) if self.contacts(i) == output]

    # ---- what the matrix board and a move read -------------------------------------------------------------
    def group_current_a(self, group: int | str) -> float:
        return self._group(group).current_a

    def group_voltage_v(self, group: int | str) -> float:
        return self._group(group).voltage_v

    def output_voltage_v(self, output: int) -> float:
        return self.outputs[output].voltage_v

    port_voltage_v = output_voltage_v

    def port_current_a(self, output: int) -> float:
        return self.outputs[output].current_a

    # ---- what a move commands ------------------------------------------------------------------------------
    def set_port_limit_a(self, output: int, amps: float) -> None:
        car = self.outputs[output].car
        if car is None:
            return
        if amps < car.obeyed_limit_a:
            if car.lowered_t is None:  # the car's follow delay runs from the first lowering it has not obeyed
                car.lowered_t = self.clock()
        else:
            car.obeyed_limit_a, car.lowered_t = amps, None  # a limit at or above what it draws by: taken at once
        car.limit_a = amps

    def set_group(self, group: str, voltage_v: float, current_a: float) -> None:
        g = self._group(group)
        g.driven_by_move, g.set_voltage_v, g.set_current_a, g.off = True, voltage_v, current_a, False

    def hand_over(self, group: str, output: int | None) -> None:
        g = self._group(group)
        g.driven_by_move, g.off = False, output is None
        if output is None:
            g.set_voltage_v = g.set_current_a = 0.0

    def may_receive(self, output: int) -> bool:
        return True  # the model's cars hold their battery's voltage until they stop

    def closing_onto(self, group: str, output: int | None) -> None:
        self._group(group).closing_onto = output

    def stop_port(self, output: int, code: str, detail: str) -> None:
        out = self.outputs[output]
        out.stops.append((code, detail))
        if out.car is not None:
            out.car.stopped = True

    # ---- the physics ---------------------------------------------------------------------------------------
    def tick(self, dt: float) -> None:
        now = self.clock()
        for out in self.outputs.values():
            self._step_output(out, now, dt)
        for i, g in enumerate(self.groups):
            if self.contacts(i) == 0:
                target = g.set_voltage_v if g.driven_by_move else 0.0
                g.voltage_v = _towards(g.voltage_v, target, self.group_slew_v_per_s * dt)
                g.current_a = 0.0

    def _step_output(self, out: SimOutput, now: float, dt: float) -> None:
        groups = self.on_output(out.output)
        car = out.car
        if car is not None and car.lowered_t is not None and car.follows and now - car.lowered_t >= car.follow_delay_s:
            car.obeyed_limit_a, car.lowered_t = car.limit_a, None
        wanted = 0.0 if car is None or car.stopped or not groups else min(car.request_a, car.obeyed_limit_a)
        moving = [g for g in groups if g.driven_by_move]
        for g in moving:
            g.current_a = _towards(g.current_a, max(g.set_current_a, 0.0), self.group_slew_a_per_s * dt)
        volts = max(out.voltage_v, car.battery_v if car is not None else 0.0, 1.0)
        own = [g for g in groups if not g.driven_by_move and not g.off]
        capacity = sum(min(g.max_current_a, g.max_power_w / volts) for g in own)
        total = _towards(out.current_a, wanted, self.car_slew_a_per_s * dt)
        total = min(total, capacity + sum(g.current_a for g in moving))  # the groups cannot give more
        rest = max(0.0, total - sum(g.current_a for g in moving))
        for g in own:
            g.current_a = rest * min(g.max_current_a, g.max_power_w / volts) / capacity if capacity else 0.0
        for g in groups:
            if g.off:
                g.current_a = 0.0
        out.current_a = total
        if car is not None and groups:
            out.voltage_v = car.battery_v + total * car.resistance_ohm
        elif groups:
            out.voltage_v = max(g.set_voltage_v for g in groups)
        elif car is not None:
            out.voltage_v = car.battery_v  # the car's contactors are closed: its battery is on the output
        else:
            out.voltage_v = 0.0
        for g in groups:
            g.voltage_v = out.voltage_v


def _towards(value: float, target: float, step: float) -> float:
    return min(value + step, target) if target > value else max(value - step, target)
