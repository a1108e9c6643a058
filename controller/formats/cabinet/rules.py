"""Rules every config dataclass obeys by the names of its fields, checked by config_loader.build after a
class's own check(): a new field is covered as soon as its name says what it is.

- A number whose name ends in a unit (`_s`, `_v`, `_a`, `_kw`, ...; see UNITS) must be finite and above 0;
  0 is allowed only where the default is 0 (there 0 means "off", and the field's comment says so).
  Temperatures (`_c`) may be any finite number.
- Whole numbers are never negative; `*attempts`, `*_rows`, `max_*` are at least 1; ports fit 0..65535.
- Pairs that must be in order (ORDERED: a start below its end, a warning above its fault threshold, a
  period shorter than the time after which silence counts as lost).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from controller.formats.cabinet.loader import ConfigError

# name suffix -> unit, longest first (`_a_per_s` before `_s`); the config reference shows the same units
UNITS: tuple[tuple[str, str], ...] = (
    ("_a_per_s", "A/s"), ("_v_per_s", "V/s"), ("_kohm", "kΩ"), ("_ohm", "Ω"), ("_kwh", "kWh"), ("_wh", "Wh"),
    ("_kw", "kW"), ("_w", "W"), ("_pct", "%"), ("_days", "days"), ("_ms", "ms"), ("_s", "s"), ("_v", "V"),
    ("_a", "A"), ("_c", "°C"),
)
SIGNED_UNITS = ("°C",)
AT_LEAST_ONE = ("attempts", "_rows", "max_")

# (lower, higher, why): wherever a dataclass has both fields, lower < higher
ORDERED: tuple[tuple[str, str, str], ...] = (
    ("derate_start_c", "derate_end_c", "derating must start below the temperature where it ends"),
    ("module_derate_start_c", "module_derate_end_c", "derating must start below the temperature where it ends"),
    ("fault_below_ohm", "warning_below_ohm", "the warning threshold must lie above the fault threshold"),
    ("telemetry_period_s", "silent_after_s", "a module would count as silent between two reads"),
    ("keepalive_s", "silent_after_s", "a module would count as silent between two keep-alives"),
    ("cable_check_hold_s", "cable_check_timeout_s", "the cable check could never hold its voltage long enough"),
    ("isolation_sample_s", "cable_check_timeout_s", "the insulation could never be sampled within the check"),
    ("initial_soc", "target_soc", "the car would be full before it starts"),
    ("min_voltage_v", "max_voltage_v", "the voltage range would be empty"),
    ("ocv_empty_v", "ocv_full_v", "a full battery must show more voltage than an empty one"),
)


def unit_of(name: str) -> str | None:
    for suffix, unit in UNITS:
        if name.endswith(suffix):
            return unit
    return None


def check_values(obj: Any) -> None:
    """Raise ConfigError(field, reason) for the first value of dataclass `obj` that makes no sense."""
    fields = {f.name: f for f in dataclasses.fields(obj) if f.init}
    for name, fld in fields.items():
        value = getattr(obj, name)
        if isinstance(value, bool):
            continue
        if isinstance(value, float):
            _check_number(name, value, _default(fld))
        elif isinstance(value, int):
            _check_whole(name, value)
    for lower, higher, why in ORDERED:
        if lower in fields and higher in fields:
            low, high = getattr(obj, lower), getattr(obj, higher)
            if isinstance(low, (int, float)) and isinstance(high, (int, float)) and not low < high:
                raise ConfigError(higher, f"{high:g} must be above {lower} ({low:g}): {why}")


def _check_number(name: str, value: float, default: Any) -> None:
    if not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number (got {value})")
    unit = unit_of(name)
    if unit is None or unit in SIGNED_UNITS:
        if unit is None and value < 0:
            raise ConfigError(name, f"must not be negative (got {value:g})")
        return
    zero_allowed = default == 0
    if value < 0 or (value == 0 and not zero_allowed):
        what = "a time" if unit == "s" else "a value"
        limit = "0 or more" if zero_allowed else "above 0"
        raise ConfigError(name, f"{what} in {unit} must be {limit} (got {value:g})")


def _check_whole(name: str, value: int) -> None:
    if value < 0:
        raise ConfigError(name, f"must not be negative (got {value})")
    if any(name.endswith(s) if s.startswith("_") else (name.startswith(s) if s.endswith("_") else s in name)
           for s in AT_LEAST_ONE) and value < 1:
        raise ConfigError(name, f"must be at least 1 (got {value})")
    if (name == "port" or name.endswith("_port")) and value > 65535:
        raise ConfigError(name, f"{value} is not a port number (0..65535)")


def _default(fld: dataclasses.Field) -> Any:
    return None if fld.default is dataclasses.MISSING else fld.default


def check_module_capacity(cabinet: Any) -> None:
    """A connector may not promise more than its module group can give, where the vendor's rating is fixed
    (a vendor whose modules report their rating at run time is checked against what they report)."""
    from controller.hw.power.registry import VENDORS, known_vendors  # drivers know their modules' rating

    make = VENDORS.get(cabinet.power.vendor)
    if make is None:
        raise ConfigError("power.vendor", f"unknown vendor {cabinet.power.vendor!r} (known: {known_vendors()})")
    try:
        rating = make(0).fixed_rating
    except FileNotFoundError:
        return  # a missing DBC is reported when the drivers are built
    if rating is None:
        return
    from controller.formats.cabinet.power_matrix import groups_reaching

    vendor = cabinet.power.vendor
    for i, conn in enumerate(cabinet.connectors):
        reaching = groups_reaching(cabinet, conn.id)  # with a matrix: every group that can be switched to it
        count = sum(len(cabinet.group(name).addresses) for name in reaching)
        names = f"group {reaching[0]!r}" if len(reaching) == 1 else f"groups {', '.join(reaching)}"
        modules = f"{names}: {count} {vendor} module{'s' if count > 1 else ''} of"
        if conn.max_power_kw > count * rating.max_power_w / 1000.0 + 1e-9:
            raise ConfigError(f"connectors[{i}].max_power_kw",
                              f"{conn.max_power_kw:g} kW is more than {modules} {rating.max_power_w / 1000.0:g} kW "
                              f"can give ({count * rating.max_power_w / 1000.0:g} kW)")
        if conn.max_current_a > count * rating.max_current_a + 1e-9:
            raise ConfigError(f"connectors[{i}].max_current_a",
                              f"{conn.max_current_a:g} A is more than {modules} {rating.max_current_a:g} A "
                              f"can give ({count * rating.max_current_a:g} A)")
        if conn.max_voltage_v > rating.max_voltage_v + 1e-9:
            raise ConfigError(f"connectors[{i}].max_voltage_v",
                              f"{conn.max_voltage_v:g} V is above the {vendor} modules' {rating.max_voltage_v:g} V")
