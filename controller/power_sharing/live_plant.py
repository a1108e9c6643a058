"""The `MovePlant` of a running controller: what a group move reads and commands, over the connectors, their
`PortGroups` and the cabinet's module groups (controller/power_sharing/group_move.py says what each call is for).

A group is judged only by readings its modules sent after the move's last real change of its command (its
voltage setpoint moved by more than FRESH_AFTER_V, its current setpoint or on/off changed): telemetry comes every
few hundred milliseconds, and an older reading could open a contact that still carries current or close one
across a voltage. Until then its current reads as infinite and its voltage as unknown (NaN): the move waits. A
reading older than `reading_max_age_s` does not count either (a module that stopped answering, a stalled loop).
The receiving port's bus reading (the I/O board's DC measure) counts only while younger than BUS_READING_MAX_AGE_S:
no group closes onto an output whose voltage is not known now.

A port's voltage is the voltage of its output bus, the module side of the connector's contactors: the cable
voltage while those are closed, else what the groups on it hold (none on it, or all off: 0 V). A move matches a
group to that voltage before its matrix contact closes.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Mapping, Protocol

from controller.connector.ports import ModuleGroupPort
from controller.power_sharing.coordinator import MIN_VOLTS
from controller.power_sharing.port_groups import PortGroups


class SharedConnector(Protocol):
    """What the plant reads and commands on a connector (controller.connector.connector.Connector)."""
    state: str
    def present_voltage(self) -> float: ...
    def io_contactors_closed(self) -> bool: ...
    def raise_fault(self, code: str, detail: str = "") -> None: ...


class ModuleGroup(ModuleGroupPort, Protocol):
    def switch_on(self) -> None: ...
    def measured_since(self, t: float) -> bool: ...


# the states in which a port's bus voltage is held (the allocator gives groups to ports in these states only)
RECEIVING_STATES = frozenset({"plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check",
                              "precharge", "charging"})
HOLD_MARGIN_V = 5.0  # while a contact travels onto a port, its groups' reference at most this above its bus
BUS_READING_MAX_AGE_S = 0.2  # the I/O board measures every few tens of ms (its staleness fault bound, too)
READING_MAX_AGE_S = 1.5  # a module group's readings (default: three of the nevi cabinets' telemetry periods)
FRESH_AFTER_V = 5.0  # a voltage setpoint that follows the receiver's battery by less keeps the readings valid


class LiveMovePlant:
    def __init__(self, connectors: Mapping[int, SharedConnector], ports: Mapping[int, PortGroups],
                 groups: Mapping[str, ModuleGroup], *, port_current_a: Callable[[int], float],
                 clock: Callable[[], float] = time.monotonic, reading_max_age_s: float = READING_MAX_AGE_S):
        self.connectors, self.ports, self.groups, self.clock = connectors, ports, groups, clock
        self.reading_max_age_s = reading_max_age_s
        self._commanded: dict[str, tuple[float, float, bool, float]] = {}  # group -> (V, A, on, when) of a move
        self._port_current_a = port_current_a
        self.volts_for_limit: dict[int, float] = {}  # the voltage the coordinator turned watts into amps at
        self.stops: list[tuple[int, str, str]] = []

    def port_current_a(self, output: int) -> float:
        return self._port_current_a(output)

    def port_voltage_v(self, output: int) -> float:
        connector = self.connectors[output]
        if connector.io_contactors_closed():
            return connector.present_voltage()
        port = self.ports[output]
        return port.output_voltage_v if port.members and port.is_on else 0.0

    def may_receive(self, output: int) -> bool:
        """A group closes onto an output only while the output's voltage holds still for the contact's delay:
        before the cable check (no voltage yet) or while charging (the battery holds it). In the cable check and
        the precharge the output ramps, so only onto an output no group feeds yet (nothing can ramp it then)."""
        connector = self.connectors[output]
        state = connector.state
        if connector.io_contactors_closed() and not self._bus_reading_fresh(connector):
            return False  # its voltage is not known now: it may have moved since
        if state in ("cable_check", "precharge"):
            return not self.ports[output].members
        demand = getattr(connector, "demand", None)
        if state == "charging" and (getattr(connector, "stop_requested_t", None) is not None
                                    or (demand is not None and demand.charging_complete)):
            return False  # the session is about to end: its voltage will not hold
        return state in RECEIVING_STATES

    def _bus_reading_fresh(self, connector: SharedConnector) -> bool:
        io = getattr(connector, "io", None)
        if io is None:
            return True  # a connector without an I/O board of its own (a test's): its voltage is what it says
        status = io.status
        return status is not None and self.clock() - status.measure_t <= BUS_READING_MAX_AGE_S

    def set_port_limit_a(self, output: int, amps: float) -> None:
        """The port's limit, in amps and in watts (at the voltage the amps were computed for)."""
        volts = max(self.volts_for_limit.get(output, MIN_VOLTS), MIN_VOLTS)
        self.ports[output].set_limit(max(amps, 0.0), max(amps, 0.0) * volts)

    def group_current_a(self, group: str) -> float:
        return self.groups[group].output_current_a if self._fresh(group) else math.inf

    def group_voltage_v(self, group: str) -> float:
        return self.groups[group].output_voltage_v if self._fresh(group) else math.nan

    def _fresh(self, group: str) -> bool:
        """Every answering module reported after the move's last real command, and within reading_max_age_s."""
        commanded = self._commanded.get(group)
        if commanded is None:
            return True  # not driven by a move: read as the port's control reads it
        return self.groups[group].measured_since(max(commanded[3], self.clock() - self.reading_max_age_s))

    def set_group(self, group: str, voltage_v: float, current_a: float) -> None:
        """The move drives the group from now on: out of its port's control first."""
        for port in self.ports.values():
            if group in port.members:
                port.leave(group)
        module_group = self.groups[group]
        voltage_v, current_a = max(voltage_v, 0.0), max(current_a, 0.0)
        module_group.set_output(voltage_v, current_a)
        if voltage_v > 0.0 and not module_group.is_on:
            module_group.switch_on()  # to hold or match a voltage, at no current
        elif voltage_v <= 0.0 and current_a <= 0.0 and module_group.is_on:
            module_group.switch_off()
        before = self._commanded.get(group)
        on = module_group.is_on
        if before is None or abs(before[0] - voltage_v) > FRESH_AFTER_V or abs(before[1] - current_a) > 0.1 \
                or before[2] != on:
            self._commanded[group] = (voltage_v, current_a, on, self.clock())

    def hand_over(self, group: str, output: int | None) -> None:
        self._commanded.pop(group, None)  # the move is over
        module_group = self.groups[group]
        if output is None:
            module_group.set_output(0.0, 0.0)
            module_group.switch_off()
            return
        port = self.ports[output]
        if not port.is_on:
            module_group.switch_off()  # joins a port whose modules are off: off too
        port.join(group, module_group)

    def closing_onto(self, group: str, output: int | None) -> None:
        """The port a contact travels onto holds its bus where it is until the contact has landed (HOLD_MARGIN_V
        above it: the current its car draws still flows), whatever its car does meanwhile."""
        for number, port in self.ports.items():
            if number == output:
                if not port.closing:
                    bus_v = self.port_voltage_v(number)
                    port.hold_bus(bus_v + HOLD_MARGIN_V if bus_v >= MIN_VOLTS else None)
                port.closing.add(group)
            elif group in port.closing:
                port.closing.discard(group)
                if not port.closing:
                    port.hold_bus(None)

    def stop_port(self, output: int, code: str, detail: str) -> None:
        self.stops.append((output, code, detail))
        self.connectors[output].raise_fault(code, detail)
