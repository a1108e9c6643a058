"""One power module simulator per vendor, found by the same vendor keys as the controller's drivers.

Each module here declares SIMULATORS: ModuleSims classes, each with its vendor `keys` and its `dbc`. The rig
reads only the DBCs from the controller side; which vendors exist is declared here on the rig's side, and a test
checks that both sides name the same keys with the same DBC.
"""
from __future__ import annotations

import importlib
import pkgutil

from hil.sim.power_modules import ModuleSims


def _discover() -> dict[str, type[ModuleSims]]:
    found: dict[str, type[ModuleSims]] = {}
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        for sim in getattr(module, "SIMULATORS", ()):
            if not (isinstance(sim, type) and issubclass(sim, ModuleSims)) or not sim.keys or not sim.dbc:
                raise RuntimeError(f"{module.__name__}: {sim!r} must be a ModuleSims declaring keys and dbc")
            for key in sim.keys:
                if key in found:
                    raise RuntimeError(f"simulator key {key!r} declared twice ({found[key].__name__}, {sim.__name__})")
                found[key] = sim
    return found


# vendor key (the cabinet file's power.vendor) -> simulator class
SIMULATORS: dict[str, type[ModuleSims]] = _discover()


def simulator_dbcs() -> set[str]:
    """Every DBC the rig's module simulators load."""
    return {sim.dbc for sim in SIMULATORS.values()}
