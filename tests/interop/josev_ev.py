"""Josev's EVCC (PyPI iso15118) with a realistic DC car behind it, for the interop tier.

Josev's simulated car asks 1 A at 500 V and calls itself precharged after five PreCharge requests whatever
the voltage. Its config file cannot change that, so this launcher starts Josev's own EVCC with a car that
behaves like a real one: precharge to its battery voltage at 2 A (done within 10 V), then ask 100 A up to
400 V. Run with Josev's venv: `NETWORK_INTERFACE=IFACE python josev_ev.py CONFIG.json` (like its main).
Only Josev's public classes are used here; nothing of its code is copied.
"""
from __future__ import annotations

import asyncio
import os
import sys

from iso15118.evcc import Config, EVCCHandler
from iso15118.evcc.controller.simulator import SimEVController
from iso15118.evcc.evcc_config import load_from_file
from iso15118.shared.exificient_exi_codec import ExificientEXICodec
from iso15118.shared.messages.datatypes import (DCEVChargeParams, PVEVEnergyCapacity, PVEVMaxCurrentLimit,
                                                PVEVMaxPowerLimit, PVEVMaxVoltageLimit, PVEVTargetCurrent,
                                                PVEVTargetVoltage)
from iso15118.shared.messages.enums import UnitSymbol

BATTERY_V = float(os.environ.get("JOSEV_BATTERY_V", "350"))  # the rig's battery sits about here
TARGET_V, TARGET_A, PRECHARGE_A = 400, 100, 2
MAX_V, MAX_A, MAX_KW, CAPACITY_KWH = 420, 150, 60, 60


class RealisticDcCar(SimEVController):
    def __init__(self, evcc_config):
        super().__init__(evcc_config)
        self.precharged = False

    def _params(self, voltage: float, current: float) -> DCEVChargeParams:
        return DCEVChargeParams(
            dc_max_current_limit=PVEVMaxCurrentLimit(multiplier=0, value=MAX_A, unit=UnitSymbol.AMPERE),
            dc_max_power_limit=PVEVMaxPowerLimit(multiplier=3, value=MAX_KW, unit=UnitSymbol.WATT),
            dc_max_voltage_limit=PVEVMaxVoltageLimit(multiplier=0, value=MAX_V, unit=UnitSymbol.VOLTAGE),
            dc_energy_capacity=PVEVEnergyCapacity(multiplier=3, value=CAPACITY_KWH, unit=UnitSymbol.WATT_HOURS),
            dc_target_current=PVEVTargetCurrent(multiplier=0, value=round(current), unit=UnitSymbol.AMPERE),
            dc_target_voltage=PVEVTargetVoltage(multiplier=0, value=round(voltage), unit=UnitSymbol.VOLTAGE))

    async def get_dc_charge_params(self) -> DCEVChargeParams:
        if self.precharged:
            return self._params(TARGET_V, TARGET_A)
        return self._params(BATTERY_V, PRECHARGE_A)

    async def is_precharged(self, present_voltage_evse) -> bool:
        self.precharged = abs(present_voltage_evse.get_decimal_value() - BATTERY_V) < 10.0
        return self.precharged


async def main(config_path: str) -> None:
    config = Config()
    config.load_envs()
    evcc_config = await load_from_file(config_path)
    await EVCCHandler(evcc_config=evcc_config, iface=config.iface, exi_codec=ExificientEXICodec(),
                      ev_controller=RealisticDcCar(evcc_config)).start()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
