"""JSON form of the generated message dataclasses, for humans and tools, and back.

A message renders as a dict of its fields in schema order: absent optional fields and empty lists are left
out, bytes become lowercase hex strings, enumerations their schema literal, nested types dicts, repeated
elements lists. A DIN or ISO 15118-2 message is the whole V2G_Message:

    {"Header": {"SessionID": "0102030405060708"},
     "Body": {"CurrentDemandReq": {"DC_EVStatus": {...}, "EVTargetCurrent":
              {"Multiplier": -1, "Unit": "A", "Value": 1300}, ...}}}

`from_dict` rebuilds the dataclass from that form and raises ExiError naming the path of a bad field.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from enum import Enum
from typing import Any

from controller.formats.v2g.exi.errors import ExiError


def to_dict(message: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(message):
        value = getattr(message, f.name)
        if value is None or (isinstance(value, list) and not value):
            continue
        out[f.name] = _render(value)
    return out


def _render(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return to_dict(value)
    if isinstance(value, list):
        return [_render(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, Enum):
        return value.value
    return value


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass `cls` from its JSON form."""
    where = path or cls.__name__
    if not isinstance(data, dict):
        raise ExiError(f"{where}: object expected, got {type(data).__name__}")
    hints = _hints(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise ExiError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    values: dict[str, Any] = {}
    for name, (annotation, required) in hints.items():
        if name not in data or data[name] is None:
            if required:
                raise ExiError(f"{where}.{name}: required field missing")
            continue
        values[name] = _parse(annotation, data[name], f"{where}.{name}")
    return cls(**values)


@functools.cache
def _hints(cls: type) -> dict[str, tuple[Any, bool]]:
    # Module globals only: a field may carry its type's name (AppProtocol: list[AppProtocol]).
    names = vars(sys.modules[cls.__module__])
    hints = typing.get_type_hints(cls, globalns=names, localns=names)
    result = {}
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        result[f.name] = (hints[f.name], required)
    return result


def _parse(annotation: Any, value: Any, path: str) -> Any:
    if isinstance(annotation, types.UnionType):  # X | None
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _parse(inner[0], value, path)
    if typing.get_origin(annotation) is list:
        if not isinstance(value, list):
            raise ExiError(f"{path}: list expected, got {type(value).__name__}")
        (item_type,) = typing.get_args(annotation)
        return [_parse(item_type, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, path)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return annotation(value)
        except ValueError:
            raise ExiError(f"{path}: {value!r} is not one of {[m.value for m in annotation]}") from None
    if annotation is bytes:
        if not isinstance(value, str):
            raise ExiError(f"{path}: hex string expected, got {type(value).__name__}")
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise ExiError(f"{path}: {value!r} is not hex") from None
    if annotation is bool or annotation is int or annotation is str:
        if type(value) is not annotation:
            raise ExiError(f"{path}: {annotation.__name__} expected, got {type(value).__name__}")
        return value
    raise ExiError(f"{path}: unsupported field type {annotation!r}")
