"""PhysicalValue (Value x 10^Multiplier, Value a 16-bit integer) to and from floats."""
from __future__ import annotations

from types import ModuleType
from typing import Any

INT16_MAX = 32767


def physical(types: ModuleType, value: float, unit: str) -> Any:
    """The finest multiplier from 10^-1 up that keeps Value in 16 bits (one decimal is plenty for V, A)."""
    for multiplier in (-1, 0, 1, 2, 3):
        scaled = round(value / 10.0 ** multiplier)
        if -INT16_MAX - 1 <= scaled <= INT16_MAX:
            return types.PhysicalValue(Multiplier=multiplier, Unit=types.UnitSymbol(unit), Value=scaled)
    return types.PhysicalValue(Multiplier=3, Unit=types.UnitSymbol(unit), Value=INT16_MAX if value > 0 else -INT16_MAX)


def to_float(value: Any | None) -> float | None:
    if value is None:
        return None
    return value.Value * 10.0 ** value.Multiplier


def optional_limit(value: Any | None) -> float | None:
    """An optional EV limit; 0 means the car gives none (a production MG4 sends EVMaximumPowerLimit 0 kW in
    ChargeParameterDiscovery and every CurrentDemand while asking for current, and EVerest charged it)."""
    limit = to_float(value)
    return None if limit == 0 else limit
