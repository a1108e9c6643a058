"""The rig's power matrix in its plant: the group modules a matrix contact connects to an output belong to that
output's `ConnectorPlant` (they feed its cable) until the contact opens again.

Built by the rig for a cabinet with a [power.matrix]: every plant starts without modules (all contacts open);
the matrix board simulator (hil/sim/power_matrix.py) reads the current through and the voltage of each group
here, and hands each contact it moves to `move`, which moves the group's modules between plants.
"""
from __future__ import annotations

from hil.plant import ConnectorPlant, ModuleModel


class RigMatrixCircuit:
    def __init__(self, plants: dict[int, ConnectorPlant], groups: list[list[ModuleModel]]):
        self.plants = plants
        self.groups = groups

    def group_current_a(self, group: int) -> float:
        return sum(m.output_current_a for m in self.groups[group])

    def group_voltage_v(self, group: int) -> float:
        """The group's side of its matrix contact: with the contact closed that is the output's node itself
        (whatever a switched-off module's own stage decays to behind its output diode), else its modules'."""
        plant = self._plant_of(group)
        if plant is not None:
            return plant.link_voltage_v
        return max((m.output_voltage_v for m in self.groups[group]), default=0.0)

    def _plant_of(self, group: int) -> ConnectorPlant | None:
        modules = self.groups[group]
        return next((plant for plant in self.plants.values()
                     if modules and all(m in plant.modules for m in modules)), None)

    def output_voltage_v(self, output: int) -> float:
        plant = self.plants.get(output)
        return plant.link_voltage_v if plant is not None else 0.0

    def groups_on(self, output: int) -> list[int]:
        """The groups (from 0) whose modules are on `output` now."""
        plant = self.plants.get(output)
        return [] if plant is None else [g for g, modules in enumerate(self.groups)
                                         if modules and all(m in plant.modules for m in modules)]

    def modules_of(self, group: int) -> list[ModuleModel]:
        return self.groups[group]

    def step_open(self, dt: float) -> None:
        """The groups on no output: no current; a group switched on slews to its voltage reference (a move
        matches it to the receiving output before its contact closes), one switched off decays."""
        for modules in self.groups:
            if any(m in plant.modules for plant in self.plants.values() for m in modules):
                continue
            for m in modules:
                target = m.voltage_ref_v + m.voltage_offset_v if m.delivering else 0.0
                step = m.slew_v_per_s * dt
                m.output_voltage_v = max(m.output_voltage_v - step, min(m.output_voltage_v + step, target))
                m.output_current_a = 0.0

    def move(self, group: int, before: int, after: int) -> None:
        """The group's contact moved from output `before` to `after` (0: open)."""
        modules = self.groups[group]
        if before in self.plants:
            self.plants[before].modules[:] = [m for m in self.plants[before].modules if m not in modules]
        if after in self.plants:
            self.plants[after].modules.extend(modules)
