"""Every V2G payload of the shared real captures decodes to what the reference decoder (OpenV2G) listed and
re-encodes to the same bytes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from controller.formats.v2g import exi

pytestmark = pytest.mark.timeout(60)

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
EXPECTED_DIRS = (CAPTURES / "expected", CAPTURES / "iso2" / "expected")  # DIN, then ISO 15118-2 sessions
_META_KEYS = {"msgName", "error", "schema"}
_TEXT_KEYS = {"DC_EVErrorCodeText": "EVErrorCode", "EVSEStatusCode_text": "EVSEStatusCode",
              "ReadyToChargeState_Text": "ReadyToChargeState", "ChargeProgress_Text": "ChargeProgress"}


def _payloads() -> list[Any]:
    if not CAPTURES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"shared captures not found at {CAPTURES}"))]
    cases = []
    for path in sorted(path for folder in EXPECTED_DIRS for path in folder.glob("*.json")):
        for index, entry in enumerate(json.loads(path.read_text())):
            name = f"{path.name.split('_')[0]}-{index}-{entry['decoded']['msgName']}"
            cases.append(pytest.param(entry, id=name))
    return cases


_SCHEMAS = {"appHandshake": "appproto", "DIN": "din", "ISO1": "iso2"}  # the reference decoder's names


def _schema(entry: dict[str, Any]) -> str:
    return _SCHEMAS[entry["decoded"]["schema"]]


def _flatten(value: Any, path: tuple[str, ...], out: dict[tuple[str, ...], Any]) -> None:
    out[path] = value
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, path + (key,), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, path + (str(index),), out)


def _lookup(flat: dict[tuple[str, ...], Any], key: str) -> tuple[bool, Any]:
    """Find the field that a reference-decoder key names: its dotted components end our path."""
    parts = tuple(p for p in re.sub(r"\.array\[(\d+)\]", r".\1", key.replace("SchedTuple0", "SAScheduleTuple.0"))
                  .split(".") if p)
    hits = {path: value for path, value in flat.items() if path[-len(parts):] == parts}
    assert len(hits) <= 1, f"{key} is ambiguous: {sorted(hits)}"
    if not hits:
        return False, None
    return True, next(iter(hits.values()))


def _same(expected: str, ours: Any, enum_values: tuple[str, ...] | None) -> bool:
    if isinstance(ours, dict) and "Value" in ours:  # ISO-2 PMax is a PhysicalValue; the reference prints its Value
        ours = ours["Value"]
    if isinstance(ours, bool):
        return expected in (("1", "True", "true") if ours else ("0", "False", "false"))
    if enum_values is not None and expected.isdigit():
        return int(expected) < len(enum_values) and enum_values[int(expected)] == ours
    return str(ours) == expected


def _check_field(flat: dict, enums: dict, wanted: dict[str, str], key: str, expected: str) -> None:
    if key in _TEXT_KEYS:
        key = _TEXT_KEYS[key]
    for suffix in ("_isUsed",):
        if key.endswith(suffix):
            found, _ = _lookup(flat, key[: -len(suffix)])
            assert found == (expected in ("1", "True")), f"{key}: expected {expected}, present={found}"
            return
    if key.endswith(".hex"):  # a string's characters as hex
        found, value = _lookup(flat, key[: -len(".hex")])
        assert found and value.encode().hex() == expected, f"{key}: expected {expected}, got {value!r}"
        return
    if key.endswith(".charactersLen"):
        found, value = _lookup(flat, key[: -len(".charactersLen")])
        assert found and str(len(value)) == expected, f"{key}: expected {expected}, got {value!r}"
        return
    for suffix in (".bytesLen", ".arrayLen", "_arrayLen"):
        if key.endswith(suffix):
            found, value = _lookup(flat, key[: -len(suffix)])
            length = len(value) // 2 if isinstance(value, str) else len(value) if found else 0
            assert str(length) == expected, f"{key}: expected {expected}, got {length}"
            return
    found, value = _lookup(flat, key)
    if not found and expected in ("0", "h") and wanted.get(f"{key}_isUsed") != "1":
        return  # the reference decoder prints index 0 for an absent optional field
    assert found, f"{key} missing (expected {expected})"
    assert _same(expected, value, enums.get(key.split(".")[-1])), f"{key}: expected {expected}, got {value!r}"


def _enum_literals(message: Any, out: dict[str, tuple[str, ...]]) -> None:
    """Field name -> enumeration literals in index order, for keys the reference decoder gives as indexes."""
    for name in getattr(message, "__slots__", ()):
        value = getattr(message, name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if hasattr(item, "__slots__"):
                _enum_literals(item, out)
            elif hasattr(type(item), "__members__"):
                out[name] = tuple(member.value for member in type(item))


def _check_app_protocols(fields: dict[str, Any], decoded: dict[str, str]) -> None:
    protocols = fields.get("AppProtocol", [])
    for key, expected in decoded.items():
        match = re.fullmatch(r"(NameSpace|Version|SchemaID|Priority)_(\d+)", key)
        if key == "AppProtocol_arrayLen":
            assert len(protocols) == int(expected)
        elif match:
            item = protocols[int(match.group(2))]
            ours = {"NameSpace": item["ProtocolNamespace"], "SchemaID": str(item["SchemaID"]),
                    "Priority": str(item["Priority"]),
                    "Version": f"{item['VersionNumberMajor']}.{item['VersionNumberMinor']}"}[match.group(1)]
            assert ours == expected, f"{key}: expected {expected}, got {ours}"


@pytest.mark.parametrize("entry", _payloads())
def test_capture_payload_decodes_as_reference_and_reencodes(entry: dict[str, Any]) -> None:
    schema = _schema(entry)
    payload = bytes.fromhex(entry["hex"])
    message = exi.decode(schema, payload)
    decoded = entry["decoded"]
    assert exi.message_type(message) == decoded["msgName"]
    fields = exi.to_json(message)
    wanted = {k: v for k, v in decoded.items() if k not in _META_KEYS}
    if schema == "appproto":
        _check_app_protocols(fields, wanted)
    else:
        header = {f"header.{k}": v for k, v in fields["Header"].items()}
        body = fields["Body"][decoded["msgName"]]
        flat: dict[tuple[str, ...], Any] = {}
        _flatten(body, (), flat)
        enums: dict[str, tuple[str, ...]] = {}
        _enum_literals(getattr(message.Body, decoded["msgName"]), enums)
        for key, expected in wanted.items():
            if key.startswith("header."):
                if key.endswith("_isUsed"):
                    assert (key[: -len("_isUsed")] in header) == (expected == "1"), key
                else:
                    assert header[key] == expected, key
            elif key == "SelectedService.array":  # "index:ServiceID" pairs
                pairs = [f"{i}:{s['ServiceID']}" for i, s in enumerate(body["SelectedServiceList"]["SelectedService"])]
                assert ",".join(pairs) == expected
            else:
                _check_field(flat, enums, wanted, key, expected)
    # Some senders pad with whole zero bytes after the document; the re-encoding has exactly the document.
    encoded = exi.encode(schema, message)
    assert payload[: len(encoded)] == encoded
    assert payload[len(encoded):].strip(b"\0") == b""
    assert exi.from_json(schema, exi.message_type(message), fields) == message
