"""Every fuzz target by name, in the order `make fuzz` runs them."""
from __future__ import annotations

from tools.fuzz import (targets_can, targets_console, targets_files, targets_modbus, targets_ocpp, targets_signatures,
                        targets_v2g)
from tools.fuzz.target import Target


def all_targets() -> dict[str, Target]:
    found = (targets_v2g.targets() + targets_can.targets() + targets_modbus.targets() + targets_console.targets()
             + targets_files.targets() + targets_ocpp.targets() + targets_signatures.targets())
    return {t.name: t for t in found}
