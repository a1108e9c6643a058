"""Bad input never escapes as anything but ExiError: truncations, bit flips, random and oversized bytes, and
hypothesis-generated valid messages that must survive a round trip."""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.formats.v2g import exi
from controller.formats.v2g.exi import document, primitives as values
from controller.formats.v2g.messages import appproto, din, iso2
from tests.v2g.test_exi_roundtrip import build_sample

pytestmark = pytest.mark.timeout(120)

EXPECTED_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "captures" / "expected"
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_TYPES = {"appproto": appproto, "din": din, "iso2": iso2}


def _hints(cls: type) -> dict[str, Any]:
    names = vars(sys.modules[cls.__module__])
    return typing.get_type_hints(cls, globalns=names, localns=names)


def _sample_payloads() -> list[tuple[str, bytes]]:
    """Valid payloads of every message type, built from the schema (no shared folder needed)."""
    payloads = []
    for schema, types in (("din", din), ("iso2", iso2)):
        for f in dataclasses.fields(types.Body):
            body_class = _hints(types.Body)[f.name]
            body_class = next(a for a in typing.get_args(body_class) if a is not type(None))
            for high in (False, True):
                message = types.V2G_Message(Header=types.MessageHeader(SessionID=b"\x01" * 8),
                                            Body=types.Body(**{f.name: build_sample(body_class, high)}))
                payloads.append((schema, exi.encode(schema, message)))
    for cls in (appproto.SupportedAppProtocolReq, appproto.SupportedAppProtocolRes):
        payloads.append(("appproto", exi.encode("appproto", build_sample(cls, True))))
    return payloads


def _capture_payloads() -> list[tuple[str, bytes]]:
    found: dict[bytes, str] = {}
    for path in sorted(EXPECTED_DIR.glob("*.json")) if EXPECTED_DIR.is_dir() else []:
        for entry in json.loads(path.read_text()):
            schema = "appproto" if entry["decoded"]["schema"] == "appHandshake" else "din"
            found.setdefault(bytes.fromhex(entry["hex"]), schema)
    return [(schema, data) for data, schema in found.items()]


SEEDS = _sample_payloads() + _capture_payloads()


def _decode_checked(schema: str, data: bytes) -> None:
    """Decoding either fails with an ExiError, or gives a message that renders and re-encodes consistently."""
    try:
        message = exi.decode(schema, data)
    except exi.ExiError as error:
        assert str(error)
        return
    json.dumps(exi.to_json(message))
    if message.warnings:  # values kept although the schema's facets forbid them: never sent back
        with pytest.raises(exi.ExiError):
            exi.encode(schema, message)
        return
    try:
        again = exi.encode(schema, message)
    except exi.ExiError:
        return  # decoding does not enforce minLength facets; encoding does
    assert exi.decode(schema, again) == message


def test_every_truncation_fails_cleanly() -> None:
    for schema, data in SEEDS:
        for cut in range(0, len(data), 1 if len(data) <= 200 else 13):
            try:
                exi.decode(schema, data[:cut])
            except exi.ExiError as error:
                assert "truncated" in str(error) or (cut == 0 and "empty" in str(error))
            else:  # only zero padding after the document may go
                assert data[cut:].strip(b"\0") == b"", f"{data.hex()} cut at {cut} decoded"


def test_every_bit_flip_fails_cleanly_or_decodes_consistently() -> None:
    short = [(schema, data) for schema, data in SEEDS if len(data) <= 64]
    for schema, data in short[::5]:
        for bit in range(len(data) * 8):
            flipped = bytearray(data)
            flipped[bit // 8] ^= 0x80 >> (bit % 8)
            _decode_checked(schema, bytes(flipped))


@pytest.mark.parametrize("schema", exi.SCHEMAS)
def test_bad_input_kinds(schema: str) -> None:
    for data, reason in [(b"", "empty"), (b"\x81\x00", "header"), (b"\x80", "truncated"),
                         (bytes([0x80]) + bytes(document.MAX_PAYLOAD_BYTES), "limit")]:
        with pytest.raises(exi.ExiError, match=reason):
            exi.decode(schema, data)
    with pytest.raises(exi.ExiError, match="bytes expected"):
        exi.decode(schema, "80")  # type: ignore[arg-type]
    with pytest.raises(exi.ExiError, match="unknown schema"):
        exi.decode("iso20", b"\x80")


def test_data_after_the_document_is_rejected_but_zero_padding_accepted() -> None:
    schema, data = SEEDS[0]
    assert exi.decode(schema, data + b"\0\0") == exi.decode(schema, data)
    with pytest.raises(exi.ExiError, match="after the end"):
        exi.decode(schema, data + b"\x01")


def test_huge_lengths_allocate_nothing() -> None:
    huge = int.from_bytes(b"\xff\xff\xff\xff\x0f" + b"a" * 4, "big")  # varint 2**32 - 1, then 4 octets
    with pytest.raises(exi.ExiError, match="truncated"):
        values.string(huge, 72, None, "T.f")
    with pytest.raises(exi.ExiError, match="truncated"):
        values.binary(huge, 72, None, "T.f")
    with pytest.raises(exi.ExiError, match="truncated"):  # over maxLength is only a warning, but the bits lack
        values.binary(huge, 72, 8, "T.f")
    endless = int.from_bytes(b"\xff" * 64, "big")  # a varint that never ends
    with pytest.raises(exi.ExiError, match="too large|truncated"):
        values.uint_tail(endless, 504, 0xFF)


# Header byte and the root element's code (V2G_Message is global element 77 in DIN, 76 in ISO 15118-2).
_ROOT_PREFIX = {"appproto": b"\x80", "din": bytes([0x80, 77 << 1]), "iso2": bytes([0x80, 76 << 1])}


@FUZZ
@given(schema=st.sampled_from(exi.SCHEMAS), data=st.binary(max_size=400))
def test_random_bytes_fail_cleanly(schema: str, data: bytes) -> None:
    prefix = _ROOT_PREFIX[schema]
    _decode_checked(schema, prefix[:-1] + bytes([prefix[-1] | (data[0] & 1 if data else 0)]) + data[1:])


@FUZZ
@given(seed=st.sampled_from(SEEDS), edits=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10**6),
                                                             st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_payloads_fail_cleanly(seed: tuple[str, bytes], edits: list[tuple[int, int, int]]) -> None:
    schema, data = seed
    mutated = bytearray(data)
    for kind, where, value in edits:
        where %= max(len(mutated), 1)
        if not mutated and kind != 2:
            continue
        if kind == 0:
            mutated[where] ^= 1 << (value % 8)
        elif kind == 1:
            mutated[where] = value
        elif kind == 2:
            mutated.insert(where, value)
        elif kind == 3 and mutated:
            del mutated[where]
        else:
            mutated = mutated[:where]
    _decode_checked(schema, bytes(mutated))


def _value_strategy(annotation: Any, meta: Any) -> st.SearchStrategy[Any]:
    if isinstance(annotation, UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        low, high = meta["count"]
        (item,) = typing.get_args(annotation)
        item_meta = {key: value for key, value in meta.items() if key != "count"}
        return st.lists(_value_strategy(item, item_meta), min_size=low, max_size=min(high or 2, 2))
    if dataclasses.is_dataclass(annotation):
        return instances(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low, high = meta["range"]
        return st.integers(low if low is not None else -(2**80), high if high is not None else 2**80)
    low, high = meta["length"]
    if annotation is bytes:
        return st.binary(min_size=low, max_size=min(high if high is not None else 24, 24))
    return st.text(min_size=low, max_size=min(high if high is not None else 24, 24))


@st.composite
def instances(draw: st.DrawFn, cls: type) -> Any:
    """Random valid instances of a message dataclass: optional fields at random, one of each choice."""
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    groups: dict[int, list[str]] = {}
    for f in fields:
        if "choice" in f.metadata:
            groups.setdefault(f.metadata["choice"], []).append(f.name)
    chosen = {draw(st.sampled_from(names)) for names in groups.values()}
    values_: dict[str, Any] = {}
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if "choice" in f.metadata:
            if f.name not in chosen:
                continue
        elif not required and not draw(st.booleans()):
            continue
        values_[f.name] = draw(_value_strategy(hints[f.name], f.metadata))
    return cls(**values_)


def _bodies(schema: str) -> st.SearchStrategy[Any]:
    types = _TYPES[schema]
    header = st.builds(lambda sid, note: types.MessageHeader(SessionID=sid, Notification=note),
                       st.binary(max_size=8), st.none() | instances(types.Notification))
    return st.tuples(header, instances(types.Body)).map(lambda hb: types.V2G_Message(Header=hb[0], Body=hb[1]))


@FUZZ
@given(data=st.data())
def test_generated_messages_round_trip(data: st.DataObject) -> None:
    schema = data.draw(st.sampled_from(["din", "iso2", "appproto"]))
    if schema == "appproto":
        message = data.draw(instances(appproto.SupportedAppProtocolReq) | instances(appproto.SupportedAppProtocolRes))
    else:
        message = data.draw(_bodies(schema))
    encoded = exi.encode(schema, message)
    assert exi.decode(schema, encoded) == message
    assert exi.from_json(schema, exi.message_type(message), exi.to_json(message)) == message


_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=5),
                  st.binary(max_size=5), st.lists(st.integers(), max_size=3), st.builds(object))


@FUZZ
@given(data=st.data(), junk=_JUNK)
def test_junk_field_values_give_exi_error(data: st.DataObject, junk: Any) -> None:
    schema = data.draw(st.sampled_from(["din", "iso2"]))
    message = data.draw(_bodies(schema))
    body = message.Body
    present = [f.name for f in dataclasses.fields(body) if getattr(body, f.name) is not None]
    target = getattr(body, present[0]) if present else body
    names = [f.name for f in dataclasses.fields(target)]
    if not names:  # a message without fields: spoil the Body instead
        target, names = body, [f.name for f in dataclasses.fields(body)]
    setattr(target, data.draw(st.sampled_from(names)), junk)
    try:
        encoded = exi.encode(schema, message)
    except exi.ExiError as error:
        assert str(error)
    else:
        exi.decode(schema, encoded)
