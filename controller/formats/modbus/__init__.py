"""Register maps of Modbus devices: one TOML file per model in this folder, chosen by name.

The maps are the wire format shared by the controller's drivers and the rig's simulators. A map lists
`values` to read (address, function code 3 or 4, type, word order, scale or decimal-point register, unit),
`commands` (a fixed value written to a register) and `settings` (a register the driver writes a number to).
`load_model(name)` validates the file and names the key and the reason on any problem.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

from controller.formats.modbus.codec import (
    VALUE_TYPES, WORD_ORDERS, WordOrder, decimal_factor, float32_step, is_float, number_to_registers,
    register_count, registers_to_number, choose_decimal_point,
)

__all__ = ["ModelError", "ValueSpec", "WriteSpec", "ReadBlock", "RegisterModel", "load_model", "parse_model",
           "model_names"]

MODELS_DIR = Path(__file__).resolve().parent
MAX_READ_REGISTERS = 125  # Modbus limit for one read of holding/input registers
MAX_READ_GAP = 8  # unused registers a single read may span to save a round trip
Kind = Literal["meter", "imd"]
REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "meter": {"values": ("voltage_v", "current_a", "power_w", "energy_import_wh"), "commands": (), "settings": ()},
    "imd": {"values": ("resistance_ohm", "resistance_status", "system_voltage_v", "system_voltage_status"),
            "commands": ("self_test", "cable_check_mode_on", "cable_check_mode_off"),
            "settings": ("prealarm_kohm", "alarm_kohm")},
}
STATUS_FORMATS = ("bender_channel",)


class ModelError(ValueError):
    """A register map that cannot be used: `key` is the dotted path inside the file."""

    def __init__(self, model: str, key: str, reason: str):
        super().__init__(f"register map {model!r} at '{key}': {reason}" if key else f"register map {model!r}: {reason}")
        self.model = model
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class ValueSpec:
    name: str
    address: int
    function: int  # 3 holding registers, 4 input registers
    type: str
    unit: str
    word_order: WordOrder = "high_first"
    scale: float = 1.0
    decimal_point: int | None = None  # address of the register holding dp: value = raw * scale * 10^(dp-3)

    @property
    def registers(self) -> int:
        return register_count(self.type)

    def addresses(self) -> tuple[int, ...]:
        own = tuple(range(self.address, self.address + self.registers))
        return own + ((self.decimal_point,) if self.decimal_point is not None else ())

    def decode(self, regs: Mapping[int, int]) -> float:
        """The value from registers keyed by address (raises RegisterDecodeError on impossible contents)."""
        raw = registers_to_number([regs[a] for a in range(self.address, self.address + self.registers)],
                                  self.type, self.word_order)
        value = raw * self.scale
        if self.decimal_point is not None:
            value *= decimal_factor(regs[self.decimal_point])
        return float(value)

    def encode(self, value: float) -> dict[int, int]:
        """Registers keyed by address that hold `value` (with the decimal point chosen for best resolution)."""
        raw = value / self.scale
        out: dict[int, int] = {}
        if self.decimal_point is not None:
            raw, dp = choose_decimal_point(raw, self.type)
            out[self.decimal_point] = dp
        regs = number_to_registers(raw, self.type, self.word_order)
        out.update({self.address + i: r for i, r in enumerate(regs)})
        return out

    def resolution(self, value: float) -> float:
        """The smallest change of this value the registers can show near `value` (0 when it depends on dp)."""
        if is_float(self.type):
            return float32_step(value / self.scale) * abs(self.scale)
        return 0.0 if self.decimal_point is not None else abs(self.scale)


@dataclass(frozen=True)
class WriteSpec:
    name: str
    address: int
    unit: str = ""
    value: int | None = None  # fixed value of a command; None for a setting


@dataclass(frozen=True)
class ReadBlock:
    function: int
    address: int
    count: int


@dataclass(frozen=True)
class RegisterModel:
    name: str
    kind: Kind
    description: str
    values: dict[str, ValueSpec]
    commands: dict[str, WriteSpec] = field(default_factory=dict)
    settings: dict[str, WriteSpec] = field(default_factory=dict)
    status_format: str = ""  # how an IMD's status registers are coded

    @functools.cached_property
    def read_plan(self) -> tuple[ReadBlock, ...]:
        """The reads that fetch every value: contiguous spans per function code, merged across small gaps."""
        blocks: list[ReadBlock] = []
        for function in sorted({v.function for v in self.values.values()}):
            addresses = sorted({a for v in self.values.values() if v.function == function for a in v.addresses()})
            start = end = addresses[0]
            for a in addresses[1:]:
                if a - end - 1 <= MAX_READ_GAP and a - start + 1 <= MAX_READ_REGISTERS:
                    end = a
                else:
                    blocks.append(ReadBlock(function, start, end - start + 1))
                    start = end = a
            blocks.append(ReadBlock(function, start, end - start + 1))
        return tuple(blocks)

    def decode(self, blocks: Mapping[ReadBlock, list[int]]) -> dict[str, float]:
        """Every value from the registers returned for `read_plan`."""
        regs: dict[int, int] = {}
        for block, words in blocks.items():
            regs.update({block.address + i: w for i, w in enumerate(words)})
        return {name: spec.decode(regs) for name, spec in self.values.items()}

    def encode(self, values: Mapping[str, float]) -> dict[int, int]:
        """Registers keyed by address holding the given values (for simulators and tests)."""
        out: dict[int, int] = {}
        for name, value in values.items():
            out.update(self.values[name].encode(value))
        return out

    def function_of(self, address: int) -> int | None:
        """The function code that reads `address` in this map (None if no value uses it)."""
        for spec in self.values.values():
            if address in spec.addresses():
                return spec.function
        return None


def model_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.toml"))


@functools.cache
def load_model(name: str) -> RegisterModel:
    """The register map `name` from this folder, validated."""
    path = MODELS_DIR / f"{name}.toml"
    if not name.isidentifier() or not path.is_file():
        raise ModelError(name, "", f"no such model (known: {', '.join(model_names())})")
    return parse_model(path.read_text(), name)


def parse_model(text: str, name: str) -> RegisterModel:
    """Validate the TOML text of a register map that should be called `name`."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(name, "", f"not valid TOML: {exc}") from None
    _only(name, "", table, {"name", "kind", "description", "values", "commands", "settings", "status_format"})
    if table.get("name") != name:
        raise ModelError(name, "name", f"must be {name!r} (the file name), got {table.get('name')!r}")
    kind = table.get("kind")
    if kind not in REQUIRED:
        raise ModelError(name, "kind", f"{kind!r} is not one of {', '.join(map(repr, REQUIRED))}")
    description = table.get("description", "")
    if not isinstance(description, str):
        raise ModelError(name, "description", "expected a string")
    values = {k: _value(name, k, v) for k, v in _section(name, table, "values").items()}
    commands = {k: _write(name, "commands", k, v) for k, v in _section(name, table, "commands").items()}
    settings = {k: _write(name, "settings", k, v) for k, v in _section(name, table, "settings").items()}
    for section, have in (("values", values), ("commands", commands), ("settings", settings)):
        missing = [n for n in REQUIRED[kind][section] if n not in have]
        if missing:
            raise ModelError(name, section, f"a {kind} map needs {', '.join(missing)}")
    status_format = table.get("status_format", "")
    if kind == "imd" and status_format not in STATUS_FORMATS:
        raise ModelError(name, "status_format", f"{status_format!r} is not one of {', '.join(STATUS_FORMATS)}")
    _check_overlaps(name, values)
    return RegisterModel(name, kind, description, values, commands, settings, status_format)


def _only(model: str, key: str, table: dict, allowed: set[str]) -> None:
    for k in table:
        if k not in allowed:
            where = f"{key}.{k}" if key else k
            raise ModelError(model, where, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _section(model: str, table: dict, key: str) -> dict:
    section = table.get(key, {})
    if not isinstance(section, dict) or any(not isinstance(v, dict) for v in section.values()):
        raise ModelError(model, key, "expected tables like [" + key + ".<name>]")
    return section


def _address(model: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise ModelError(model, key, f"expected a register address 0..65535, got {value!r}")
    return value


def _value(model: str, name: str, t: dict) -> ValueSpec:
    key = f"values.{name}"
    _only(model, key, t, {"address", "function", "type", "unit", "word_order", "scale", "decimal_point"})
    for required in ("address", "type", "unit"):
        if required not in t:
            raise ModelError(model, f"{key}.{required}", "missing required key")
    address = _address(model, f"{key}.address", t["address"])
    function = t.get("function", 3)
    if function not in (3, 4) or isinstance(function, bool):
        raise ModelError(model, f"{key}.function", f"{function!r} is not 3 (holding) or 4 (input registers)")
    type_name = t["type"]
    if type_name not in VALUE_TYPES:
        raise ModelError(model, f"{key}.type", f"{type_name!r} is not one of {', '.join(VALUE_TYPES)}")
    if not isinstance(t["unit"], str) or not t["unit"]:
        raise ModelError(model, f"{key}.unit", "expected a unit name such as 'V'")
    word_order = t.get("word_order", "high_first")
    if word_order not in WORD_ORDERS:
        raise ModelError(model, f"{key}.word_order", f"{word_order!r} is not one of {', '.join(WORD_ORDERS)}")
    if "word_order" in t and register_count(type_name) == 1:
        raise ModelError(model, f"{key}.word_order", f"has no meaning for the 16-bit type {type_name}")
    scale = t.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale == 0:
        raise ModelError(model, f"{key}.scale", f"expected a non-zero number, got {scale!r}")
    decimal_point = t.get("decimal_point")
    if decimal_point is not None:
        decimal_point = _address(model, f"{key}.decimal_point", decimal_point)
        if is_float(type_name):
            raise ModelError(model, f"{key}.decimal_point", f"a {type_name} value carries its own exponent")
    if address + register_count(type_name) > 0x10000:
        raise ModelError(model, f"{key}.address", "the value runs past register 65535")
    return ValueSpec(name, address, function, type_name, t["unit"], word_order, float(scale), decimal_point)


def _write(model: str, section: str, name: str, t: dict) -> WriteSpec:
    key = f"{section}.{name}"
    _only(model, key, t, {"address", "value", "unit"} if section == "commands" else {"address", "unit", "type"})
    if "address" not in t:
        raise ModelError(model, f"{key}.address", "missing required key")
    address = _address(model, f"{key}.address", t["address"])
    if section == "settings" and t.get("type", "uint16") != "uint16":
        raise ModelError(model, f"{key}.type", "settings are written as one uint16 register")
    value = None
    if section == "commands":
        value = t.get("value")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise ModelError(model, f"{key}.value", f"expected a register value 0..65535, got {value!r}")
    unit = t.get("unit", "")
    if not isinstance(unit, str):
        raise ModelError(model, f"{key}.unit", "expected a string")
    return WriteSpec(name, address, unit, value)


def _check_overlaps(model: str, values: dict[str, ValueSpec]) -> None:
    owner: dict[tuple[int, int], str] = {}
    for spec in values.values():
        for a in spec.addresses():
            other = owner.get((spec.function, a))
            # several values may share one decimal-point register; nothing else may be shared
            shared_dp = other is not None and a == spec.decimal_point and a == values[other].decimal_point
            if other is not None and not shared_dp:
                raise ModelError(model, f"values.{spec.name}", f"register {a} is also used by {other}")
            owner[(spec.function, a)] = spec.name
