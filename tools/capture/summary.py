"""One short line of key values per dissected message, for the human table of `charger-v2g pcap`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from controller.formats.capture.dissect import DissectedMessage

MAX_SUMMARY = 110
# SLAC fields every message of a kind carries and that say nothing about this one.
_QUIET_SLAC = {"destination", "source", "mmv", "application_type", "security_type", "mvf_length", "msound_target",
               "run_id", "run_id_text", "sender_id", "source_id", "resp_id", "pev_id", "evse_id", "random", "body"}
# V2G fields shown first, when present, because they tell how the session goes.
_FIRST_V2G = ("ResponseCode", "EVSEProcessing", "EVRESSSOC", "EVTargetVoltage", "EVTargetCurrent",
              "EVSEPresentVoltage", "EVSEPresentCurrent", "EVSEStatusCode", "EVErrorCode", "ReadyToChargeState",
              "ChargeProgress")


def summarize(message: DissectedMessage) -> str:
    if message.error is not None:
        return _clip(f"error: {message.error}")
    if message.schema == "slac":
        return _clip(" ".join(_slac_parts(message.fields)))
    # DIN/ISO messages sit in {"Header": ..., "Body": {type: fields}}; the header only repeats the session.
    body = message.fields.get("Body", {}).get(message.type, message.fields)
    pairs = list(_flatten(body, ""))
    rank = {name: index for index, name in enumerate(_FIRST_V2G)}
    pairs.sort(key=lambda pair: rank.get(pair[0], len(rank)))
    return _clip(" ".join(f"{key}={value}" for key, value in pairs))


def _slac_parts(fields: dict[str, Any]) -> Iterator[str]:
    run_id = fields.get("run_id_text") or fields.get("run_id")
    if run_id:
        yield f"RunID={run_id}"
    for key, value in fields.items():
        if key == "attenuation":
            yield f"groups={len(value)}" + (f" avg={sum(value) / len(value):.1f}dB" if value else "")
        elif key in _QUIET_SLAC:
            continue
        else:
            yield f"{key}={value}"


def _flatten(value: Any, name: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        physical = _physical_value(value)
        if physical is not None:
            yield name, physical
            return
        for key, item in value.items():
            yield from _flatten(item, key)
    elif isinstance(value, list):
        if value and all(not isinstance(item, (dict, list)) for item in value):
            yield name, ",".join(str(item) for item in value)
        else:
            for item in value:
                yield from _flatten(item, name)
    elif name:
        yield name, "true" if value is True else "false" if value is False else str(value)


def _physical_value(value: dict[str, Any]) -> str | None:
    """DIN/ISO PhysicalValue {Multiplier, Unit, Value} as one number with its unit."""
    keys = {key.lower(): item for key, item in value.items()}
    if "value" not in keys or "multiplier" not in keys:
        return None
    try:
        number = int(keys["value"]) * 10.0 ** int(keys["multiplier"])
    except (TypeError, ValueError):
        return None
    unit = keys.get("unit")
    return f"{number:g}{unit if unit not in (None, '') else ''}"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1] + "…"
