"""Register values <-> numbers: integer and float types over 1-4 registers, word order, decimal-point scaling.

Modbus sends each 16-bit register big-endian; only the order of the words of a wider value varies between
devices ("high_first": most significant word at the lowest address, "low_first": the reverse).
"""
from __future__ import annotations

import math
import struct
from typing import Literal

WordOrder = Literal["high_first", "low_first"]

# type name -> (registers, struct format of the big-endian value)
VALUE_TYPES: dict[str, tuple[int, str]] = {
    "int16": (1, ">h"),
    "uint16": (1, ">H"),
    "int32": (2, ">i"),
    "uint32": (2, ">I"),
    "int64": (4, ">q"),
    "float32": (2, ">f"),
}
WORD_ORDERS: tuple[str, ...] = ("high_first", "low_first")
MAX_DECIMAL_POINT = 9  # a decimal-point register above this is not a decimal point


class RegisterDecodeError(ValueError):
    """Registers that cannot be a value of the declared type (a garbled reply)."""


def register_count(type_name: str) -> int:
    return VALUE_TYPES[type_name][0]


def is_float(type_name: str) -> bool:
    return type_name.startswith("float")


def registers_to_number(regs: list[int], type_name: str, word_order: WordOrder) -> int | float:
    """The number held in `regs` (as read, lowest address first)."""
    count, fmt = VALUE_TYPES[type_name]
    if len(regs) != count:
        raise RegisterDecodeError(f"{type_name} needs {count} registers, got {len(regs)}")
    if any(not 0 <= r <= 0xFFFF for r in regs):
        raise RegisterDecodeError(f"register value out of 0..65535 in {regs}")
    words = regs if word_order == "high_first" else list(reversed(regs))
    value = struct.unpack(fmt, b"".join(w.to_bytes(2, "big") for w in words))[0]
    if isinstance(value, float) and not math.isfinite(value):
        raise RegisterDecodeError(f"{type_name} is not a finite number ({value})")
    return value


def number_to_registers(value: int | float, type_name: str, word_order: WordOrder) -> list[int]:
    """The registers (lowest address first) that hold `value`; integers are rounded and must fit the type."""
    count, fmt = VALUE_TYPES[type_name]
    if not is_float(type_name):
        value = int(round(value))
    try:
        raw = struct.pack(fmt, value)
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"{value} does not fit {type_name}: {exc}") from None
    words = [int.from_bytes(raw[i:i + 2], "big") for i in range(0, 2 * count, 2)]
    return words if word_order == "high_first" else list(reversed(words))


def decimal_factor(decimal_point: int) -> float:
    """The Acrel convention: value = raw * 10^(dp - 3)."""
    if not 0 <= decimal_point <= MAX_DECIMAL_POINT:
        raise RegisterDecodeError(f"decimal point register reads {decimal_point}, expected 0..{MAX_DECIMAL_POINT}")
    return 10.0 ** (decimal_point - 3)


def choose_decimal_point(value: float, type_name: str) -> tuple[int, int]:
    """(raw, dp) with the finest resolution whose raw value still fits `type_name`."""
    fmt = VALUE_TYPES[type_name][1]
    for dp in range(MAX_DECIMAL_POINT + 1):
        raw = int(round(value / decimal_factor(dp)))
        try:
            struct.pack(fmt, raw)
        except struct.error:
            continue
        return raw, dp
    raise ValueError(f"{value} does not fit {type_name} with any decimal point")


def float32_step(value: float) -> float:
    """The spacing of float32 numbers around `value` (its resolution)."""
    if value == 0.0:
        return 0.0
    return 2.0 ** (math.frexp(abs(value))[1] - 24)
