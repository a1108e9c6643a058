"""Requests the schema knows but this DC charger never serves (AC ChargingStatus, DIN's MeteringReceipt
(ISO-2's is Plug & Charge's: metering_receipt.py), DIN's certificate and service-detail messages): answered
FAILED_SequenceError in their own response type, so the car reads a clear refusal before the session closes,
instead of a bare TCP close.

The schema makes most fields of these responses mandatory; they get the smallest values their facets allow
(a car ignores them after a FAILED code). Built from the message types, so every schema version fits.
"""
from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from types import ModuleType

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext

_PLACEHOLDER_DEPTH = 6


def response_name(request: str) -> str:
    return request[: -len("Req")] + "Res"


def respond(ctx: SeccContext, answer: Answer, code, *, response: str):
    cls = getattr(ctx.types, response)
    return placeholder(cls, ctx.types, ResponseCode=code)


def placeholder(cls: type, module: ModuleType, depth: int = 0, **given):
    """An instance of dataclass `cls` with every mandatory field filled in (and one of each choice group)."""
    if depth > _PLACEHOLDER_DEPTH:
        raise ValueError(f"{cls.__name__}: nesting too deep for a placeholder")
    names = vars(sys.modules[cls.__module__])  # as locals too: a field may share its type's name
    hints = typing.get_type_hints(cls, names, names)
    values, chosen = dict(given), set()
    for fld in dataclasses.fields(cls):
        choice = fld.metadata.get("choice")
        if fld.name in values:
            chosen.add(choice)
            continue
        optional = fld.default is None or fld.default_factory is not dataclasses.MISSING
        if optional and (choice is None or choice in chosen):
            continue
        values[fld.name] = _value(_required(hints[fld.name]), fld.metadata, module, depth)
        chosen.add(choice)
    return cls(**values)


def _required(hint):
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint


def _value(hint, metadata, module: ModuleType, depth: int):
    if typing.get_origin(hint) is list:
        low = (metadata.get("count") or (1, None))[0] or 1
        return [_value(typing.get_args(hint)[0], {}, module, depth) for _ in range(low)]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    if hint is bool:
        return False
    if hint is int:
        low, high = metadata.get("range", (None, None))
        return max(0 if low is None else low, min(0, 0 if high is None else high))
    if hint is float:
        return 0.0
    if hint in (str, bytes):
        low = (metadata.get("length") or (0, None))[0] or 0
        return "Z" * low if hint is str else bytes(low)
    if dataclasses.is_dataclass(hint):
        return placeholder(hint, module, depth + 1)
    raise ValueError(f"no placeholder for {hint!r}")
