"""Turn TOML tables into frozen dataclasses, naming the key and the reason on any error."""
from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from typing import Any, get_args, get_origin


class ConfigError(ValueError):
    """A configuration problem: `key` is the dotted path, `reason` what is wrong with it."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"config error at '{key}': {reason}")
        self.key = key
        self.reason = reason


def build(cls: type, table: Any, path: str) -> Any:
    """Build dataclass `cls` from `table`; unknown keys, missing keys and wrong types are errors."""
    if not isinstance(table, dict):
        raise ConfigError(path, f"expected a table, got {type(table).__name__}")
    from controller.formats.cabinet.rules import check_values  # imports this module's ConfigError
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in table:
        if key not in fields:
            raise ConfigError(_join(path, key), f"unknown key (allowed: {', '.join(sorted(fields))})")
    values = {}
    for name, fld in fields.items():
        key = _join(path, name)
        if name in table:
            values[name] = _convert(hints[name], table[name], key)
        elif fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
            raise ConfigError(key, "missing required key")
    obj = cls(**values)
    check = getattr(obj, "check", None)
    try:
        if check is not None:
            check()
        check_values(obj)  # the rules every field obeys by its name (config_rules.py)
    except ConfigError as exc:
        raise ConfigError(_join(path, exc.key), exc.reason) from None
    except ValueError as exc:
        raise ConfigError(path or "<root>", str(exc)) from None
    return obj


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, key)
    if origin is typing.Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(key, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {type(value).__name__}")
        return tuple(_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a table, got {type(value).__name__}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return value
    raise ConfigError(key, f"unsupported type {hint}")


def apply_override(table: dict, assignment: str) -> None:
    """Apply `dotted.key[index].name=value` (value in TOML syntax, bare words taken as strings) to `table`."""
    path, sep, raw = assignment.partition("=")
    if not sep or not path.strip():
        raise ConfigError(assignment, "an override must look like key.sub[0].name=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path.strip()) if p]
    node: Any = table
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key: Any = int(part) if part.isdigit() else part
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                raise ConfigError(path, f"no list entry {key}")
        elif not isinstance(node, dict):
            raise ConfigError(path, f"{part!r} is not inside a table")
        if last:
            node[key] = value
        else:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]
