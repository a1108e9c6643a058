"""DC power modules over CAN: one driver per vendor (controller/hw/power/vendors/), chosen by the configuration's
vendor key through the registry."""
from __future__ import annotations

from controller.hw.power.base import ModuleAnswer, ModuleRating, PowerModuleDriver
from controller.hw.power.group import GroupCapabilities, PowerModuleGroup
from controller.hw.power.registry import VENDORS, driver_class, known_vendors, vendor_dbc

__all__ = [
    "VENDORS", "GroupCapabilities", "ModuleAnswer", "ModuleRating", "PowerModuleDriver", "PowerModuleGroup",
    "driver_class", "known_vendors", "vendor_dbc",
]
