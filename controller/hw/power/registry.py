"""The vendor registry: vendor key -> driver class, found from the modules of controller.hw.power.vendors.

Config validation, the app, PowerModuleGroup and the console's frame decoder all read this one mapping, so a
new vendor is one driver file (plus its DBC and the rig's simulator file), nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from controller.hw.power import vendors
from controller.hw.power.base import PowerModuleDriver


class VendorRegistryError(RuntimeError):
    """A vendor module breaks the registry's rules (a programming error, found at import)."""


def _collect(modules: list[ModuleType]) -> dict[str, type[PowerModuleDriver]]:
    found: dict[str, type[PowerModuleDriver]] = {}
    for module in modules:
        drivers = getattr(module, "DRIVERS", None)
        if not drivers:
            raise VendorRegistryError(f"{module.__name__} declares no DRIVERS")
        for driver in drivers:
            if not (isinstance(driver, type) and issubclass(driver, PowerModuleDriver)):
                raise VendorRegistryError(f"{module.__name__}: {driver!r} is not a PowerModuleDriver")
            key, dbc = getattr(driver, "name", None), getattr(driver, "dbc", None)
            if not key or not dbc:
                raise VendorRegistryError(f"{module.__name__}.{driver.__name__} must declare name and dbc")
            if key in found:
                raise VendorRegistryError(f"vendor key {key!r} declared by both {found[key].__module__} "
                                          f"and {module.__name__}")
            found[key] = driver
    return found


def _vendor_modules() -> list[ModuleType]:
    names = sorted(info.name for info in pkgutil.iter_modules(vendors.__path__) if not info.name.startswith("_"))
    return [importlib.import_module(f"{vendors.__name__}.{name}") for name in names]


# vendor key (the cabinet file's power.vendor) -> driver class; a class is called with the group index (0..15)
VENDORS: dict[str, type[PowerModuleDriver]] = _collect(_vendor_modules())


def known_vendors() -> str:
    return ", ".join(sorted(VENDORS))


def driver_class(vendor: str) -> type[PowerModuleDriver]:
    """The driver for `vendor`; ValueError naming the known keys for an unknown one."""
    driver = VENDORS.get(vendor)
    if driver is None:
        raise ValueError(f"unknown power module vendor {vendor!r} (known: {known_vendors()})")
    return driver


def vendor_dbc(vendor: str) -> str | None:
    """The DBC name of `vendor`'s frames, None for an unknown vendor."""
    driver = VENDORS.get(vendor)
    return driver.dbc if driver else None
