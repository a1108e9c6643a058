"""DC power modules over CAN: one driver per vendor, chosen by the configuration's vendor name."""
from __future__ import annotations

from typing import Callable

from controller.hw.power.base import ModuleAnswer, ModuleRating, PowerModuleDriver
from controller.hw.power.group import GroupCapabilities, PowerModuleGroup
from controller.hw.power.infypower import InfyPowerDriver
from controller.hw.power.uugreen import UUGreen40Driver, UUGreenDriver

# config name -> driver factory taking the group index (0..15)
VENDORS: dict[str, Callable[[int], PowerModuleDriver]] = {
    "infypower": InfyPowerDriver,
    "uugreen": UUGreenDriver,  # UR100030
    "uugreen-40": UUGreen40Driver,  # UR100040
}

__all__ = [
    "VENDORS", "GroupCapabilities", "InfyPowerDriver", "ModuleAnswer", "ModuleRating", "PowerModuleDriver",
    "PowerModuleGroup", "UUGreen40Driver", "UUGreenDriver",
]
