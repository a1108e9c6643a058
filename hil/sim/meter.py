"""Simulated DC energy meter: the plant's cable voltage and output current, and the energy the plant has
integrated from them, in the register layout of a meter model from controller/formats/modbus.

Fault injection on top of ModbusDeviceSim's (silent, garble, exception_code): `frozen` keeps answering
with the registers of the moment it was set, as a hung meter would.
"""
from __future__ import annotations

from controller.formats.modbus import load_model
from hil.plant import ConnectorPlant
from hil.sim.modbus_device import ModbusDeviceSim


class MeterSim(ModbusDeviceSim):
    def __init__(self, plant: ConnectorPlant, model: str = "acrel_djsf1352_rn", unit_id: int = 1,
                 initial_energy_wh: float = 1_234_560.0):
        found = load_model(model)
        if found.kind != "meter":
            raise ValueError(f"{model!r} is a register map of kind {found.kind!r}, expected 'meter'")
        super().__init__(found, unit_id)
        self.plant = plant
        self.initial_energy_wh = initial_energy_wh  # the meter's reading before this plant started
        self._frozen: dict[int, int] | None = None

    @property
    def energy_wh(self) -> float:
        """What the meter has counted, before register rounding."""
        return self.initial_energy_wh + self.plant.energy_wh

    @property
    def register_energy_wh(self) -> float:
        """The energy as the meter's registers show it now (what a reader of the meter sees)."""
        return self.model.values["energy_import_wh"].decode(self.registers())

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    @frozen.setter
    def frozen(self, on: bool) -> None:
        self._frozen = self._live_registers() if on else None

    def registers(self) -> dict[int, int]:
        return self._frozen if self._frozen is not None else self._live_registers()

    def _live_registers(self) -> dict[int, int]:
        voltage = self.plant.cable_voltage_v
        current = self.plant.output_current_a
        return self.model.encode({"voltage_v": voltage, "current_a": current, "power_w": voltage * current,
                                  "energy_import_wh": self.energy_wh})
