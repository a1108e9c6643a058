"""The module groups a matrix connects to one output, seen by that output's connector as one group.

It has the shape of a `PowerModuleGroup` (controller/connector/ports.py, ModuleGroupPort), so a connector on a
matrix cabinet needs no change: its setpoint is split over the member groups by their current capacity, its
capabilities are the members' summed and capped by the limit the sharing coordinator gives the port, and an
emergency switches off only this port's members. The coordinator calls `leave` when a group starts to move
away (the move drives it from then on) and `join` once its contact to this output is closed.

Wired by controller/power_sharing/live.py for a cabinet with a [power.matrix].
"""
from __future__ import annotations

import math
from typing import Callable

from controller.connector.ports import ModuleGroupPort
from controller.hw.power.group import GroupCapabilities

NO_CAPABILITIES = GroupCapabilities(max_voltage_v=0.0, min_voltage_v=0.0, max_current_a=0.0, max_power_w=0.0,
                                    healthy_count=0, total_count=0)


MemberGroup = ModuleGroupPort  # each group on an output is driven as a connector's own group would be


class PortGroups:
    def __init__(self, voltage_range: tuple[float, float] = (0.0, 0.0)) -> None:
        # (min, max) of the modules: a port with no group yet still tells its cable check the real range
        self._empty = NO_CAPABILITIES if voltage_range == (0.0, 0.0) else GroupCapabilities(
            max_voltage_v=voltage_range[1], min_voltage_v=voltage_range[0], max_current_a=0.0, max_power_w=0.0,
            healthy_count=0, total_count=0)
        self.members: dict[str, MemberGroup] = {}
        self.closing: set[str] = set()  # groups whose matrix contact to this output is on its way
        self._hold_v: float | None = None  # while one travels: the members' voltage reference at most this
        self._on = False
        self._voltage_v = 0.0
        self._current_a = 0.0
        self._limit_a = math.inf
        self._limit_w = math.inf
        self._telemetry: Callable[[], None] | None = None

    # ---- the sharing coordinator's side -----------------------------------------------------------------
    def join(self, name: str, group: MemberGroup) -> None:
        """A group whose contact to this output is closed starts to serve it at the port's setpoint."""
        self.members[name] = group
        if self._telemetry is not None and hasattr(group, "listen_telemetry"):
            group.listen_telemetry(self._telemetry)
        self._split()
        if self._on:
            group.switch_on()

    def leave(self, name: str) -> MemberGroup | None:
        """A group about to move away: the others take over the setpoint; the caller drives it from now on."""
        group = self.members.pop(name, None)
        self._split()
        return group

    def hold_bus(self, voltage_v: float | None) -> None:
        """While a contact travels onto this output, the members' voltage reference at most `voltage_v` (None:
        the port's own setpoint again). Charging at a set current, their reference is the car's target, far above
        the battery: if the car's contactor opened meanwhile the bus would rise to it under the landing contact."""
        self._hold_v = voltage_v
        self._split()

    def set_limit(self, current_a: float, power_w: float) -> None:
        """What the allocation gives this port (the connector tells the car through its capabilities)."""
        self._limit_a, self._limit_w = current_a, power_w

    # ---- the connector's side (ModuleGroupPort) ---------------------------------------------------------
    @property
    def capabilities(self) -> GroupCapabilities:
        caps = [g.capabilities for g in self.members.values()]
        if not caps:
            return self._empty
        return GroupCapabilities(
            max_voltage_v=min(c.max_voltage_v for c in caps), min_voltage_v=max(c.min_voltage_v for c in caps),
            max_current_a=min(sum(c.max_current_a for c in caps), self._limit_a),
            max_power_w=min(sum(c.max_power_w for c in caps), self._limit_w),
            healthy_count=sum(c.healthy_count for c in caps), total_count=sum(c.total_count for c in caps))

    @property
    def output_voltage_v(self) -> float:
        return max((g.output_voltage_v for g in self.members.values()), default=0.0)

    @property
    def output_current_a(self) -> float:
        return sum(g.output_current_a for g in self.members.values())

    @property
    def is_on(self) -> bool:
        return self._on

    @property
    def contact_closing(self) -> bool:
        """A stop waits for these contacts to land before its current falls (controller/connector/power_down.py)."""
        return bool(self.closing)

    @property
    def setpoint(self) -> tuple[float, float]:
        return self._voltage_v, self._current_a

    @property
    def hottest_module_c(self) -> float | None:
        temps = [t for g in self.members.values() if (t := getattr(g, "hottest_module_c", None)) is not None]
        return max(temps, default=None)

    def available_power_w(self) -> float:
        total = sum(g.available_power_w() if hasattr(g, "available_power_w") else g.capabilities.max_power_w
                    for g in self.members.values())
        return min(total, self._limit_w)

    def set_output(self, voltage_v: float, current_a: float) -> None:
        if not (math.isfinite(voltage_v) and voltage_v >= 0 and math.isfinite(current_a) and current_a >= 0):
            raise ValueError(f"setpoint {voltage_v} V / {current_a} A must be finite and not negative")
        self._voltage_v, self._current_a = voltage_v, current_a
        self._split()

    def switch_on(self) -> None:
        self._on = True
        for g in self.members.values():
            g.switch_on()

    def switch_off(self) -> None:
        self._on = False
        for g in self.members.values():
            g.switch_off()

    def emergency_off(self) -> None:
        """This port's groups only: the other outputs charge on."""
        self._on = False
        for g in self.members.values():
            g.emergency_off()

    def module_states(self) -> list[dict]:
        return [{**state, "group": name} for name, g in self.members.items() for state in g.module_states()]

    def listen_telemetry(self, listener: Callable[[], None]) -> None:
        self._telemetry = listener
        for g in self.members.values():
            if hasattr(g, "listen_telemetry"):
                g.listen_telemetry(listener)

    def _split(self) -> None:
        """The port's current setpoint over the members, by what each can carry, never more than that (a
        group that just left may leave a setpoint the others cannot carry until the car's next request)."""
        if not self.members:
            return
        weights = {name: max(g.capabilities.max_current_a, 0.0) for name, g in self.members.items()}
        total = sum(weights.values())
        volts = self._voltage_v if self._hold_v is None else min(self._voltage_v, self._hold_v)
        for name, g in self.members.items():
            share = self._current_a * weights[name] / total if total > 0 else self._current_a / len(self.members)
            g.set_output(volts, min(share, weights[name]))
