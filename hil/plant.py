"""The physics behind the rig's simulators: power modules, contactors, cable, insulation, and the car's battery.

Simulators read and write this state; they meet the controller only on the wires. One `ConnectorPlant` per
charging cable; `step(dt)` advances it. Kept deliberately simple: first-order voltage slew, equal current
sharing by each module's current limit, a battery as open-circuit voltage plus internal resistance.
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ModuleModel:
    """The electrical state of one simulated power module (protocol-independent)."""
    address: int
    max_voltage_v: float = 1000.0
    min_voltage_v: float = 150.0
    max_current_a: float = 100.0
    max_power_w: float = 30_000.0
    slew_v_per_s: float = 2000.0
    on: bool = False
    voltage_ref_v: float = 0.0
    current_limit_a: float = 0.0
    output_voltage_v: float = 0.0
    output_current_a: float = 0.0
    temperature_c: float = 30.0
    # fault injection
    overtemperature: bool = False
    overvoltage: bool = False
    silent: bool = False
    short_circuit: bool = False  # shown as the module's output short flag (hil/injection)
    voltage_offset_v: float = 0.0  # regulation fault: the output is held this far above voltage_ref_v
    current_offset_a: float = 0.0  # regulation fault: this much above the current limit
    last_command_t: float = 0.0
    comm_timeout_s: float = 10.0

    @property
    def delivering(self) -> bool:
        return self.on and not self.overtemperature and not self.overvoltage

    def current_capacity_a(self) -> float:
        if not self.delivering:
            return 0.0
        limit = min(self.current_limit_a, self.max_current_a)
        if self.output_voltage_v > 1.0:
            limit = min(limit, self.max_power_w / self.output_voltage_v)
        return max(0.0, limit) + self.current_offset_a


class Battery(Protocol):
    def open_circuit_voltage(self) -> float: ...
    @property
    def internal_resistance_ohm(self) -> float: ...
    def absorb(self, current_a: float, dt: float) -> None: ...


@dataclass
class ConnectorPlant:
    connector_id: int
    modules: list[ModuleModel] = field(default_factory=list)
    # set by the I/O board simulator
    dc_plus_closed: bool = False
    dc_minus_closed: bool = False
    # set by the car
    ev_cp_state: str = "A"  # resistor state the car presents: A (unplugged), B, C, D, E
    ev_contactor_closed: bool = False
    battery: Battery | None = None
    # insulation to earth: the cable and car side (behind the contactors), and the cabinet's own DC bus
    isolation_ohm: float = 10e6
    cabinet_isolation_ohm: float = 20e6
    cable_capacitance_discharge_v_per_s: float = 2000.0
    # results of step()
    link_voltage_v: float = 0.0  # module side of the contactors
    cable_voltage_v: float = 0.0  # car side of the contactors
    output_current_a: float = 0.0
    energy_wh: float = 0.0  # delivered through the contactors
    peak_power_w: float = 0.0

    @property
    def contactors_closed(self) -> bool:
        return self.dc_plus_closed and self.dc_minus_closed

    @property
    def measured_isolation_ohm(self) -> float:
        """What an IMD on the cabinet's DC bus sees: the cable side counts only with the contactors closed."""
        if not self.contactors_closed:
            return self.cabinet_isolation_ohm
        a, b = self.cabinet_isolation_ohm, self.isolation_ohm
        return b if math.isinf(a) else a * b / (a + b)

    @property
    def battery_connected(self) -> bool:
        return self.ev_contactor_closed and self.battery is not None and self.ev_cp_state != "A"

    def step(self, dt: float) -> None:
        delivering = [m for m in self.modules if m.delivering]
        for m in self.modules:
            if m.overvoltage and m.on:
                m.output_voltage_v = m.voltage_ref_v * 1.15 + 20.0
            elif not m.delivering:
                m.output_voltage_v = max(0.0, m.output_voltage_v - m.slew_v_per_s * dt)
            else:
                target = m.voltage_ref_v + m.voltage_offset_v
                delta = max(-m.slew_v_per_s * dt, min(m.slew_v_per_s * dt, target - m.output_voltage_v))
                m.output_voltage_v += delta
            m.output_current_a = 0.0
        capacity = sum(m.current_capacity_a() for m in delivering)
        source_v = max((m.output_voltage_v for m in delivering), default=0.0)
        current = 0.0
        if self.contactors_closed and self.battery_connected:
            ocv = self.battery.open_circuit_voltage()
            r = self.battery.internal_resistance_ohm
            if delivering and source_v > ocv:
                current = min(capacity, (source_v - ocv) / r)
            link = ocv + current * r
            # a module with a regulation fault forces its voltage whatever the battery takes
            link = max([link, *(m.voltage_ref_v + m.voltage_offset_v for m in delivering if m.voltage_offset_v)])
            for m in delivering:
                m.output_voltage_v = max(m.output_voltage_v, link) if current < capacity else link
            self.link_voltage_v = link
            self.cable_voltage_v = link
            self.battery.absorb(current, dt)
        else:
            self.link_voltage_v = source_v
            leak = source_v / self.isolation_ohm if self.contactors_closed else 0.0
            current = min(capacity, leak)
            if self.contactors_closed:
                self.cable_voltage_v = source_v
            elif self.battery_connected:
                self.cable_voltage_v = self.battery.open_circuit_voltage()
            else:
                decay = self.cable_capacitance_discharge_v_per_s * dt
                self.cable_voltage_v = max(0.0, self.cable_voltage_v - decay)
        if capacity > 0:
            for m in delivering:
                m.output_current_a = current * m.current_capacity_a() / capacity
        self.output_current_a = current if self.contactors_closed else 0.0
        power = self.cable_voltage_v * self.output_current_a
        self.energy_wh += power * dt / 3600.0
        self.peak_power_w = max(self.peak_power_w, power)
