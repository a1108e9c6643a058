"""Round trips of every DIN and ISO 15118-2 message type (optional fields absent and present, values at
their schema limits) and the encoder's rejection of values outside the schema."""

from __future__ import annotations

import dataclasses
import sys
import typing
from enum import Enum
from types import UnionType
from typing import Any

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.messages import appproto, din, iso2

pytestmark = pytest.mark.timeout(60)

_SCHEMA_TYPES = {"din": din, "iso2": iso2}


def _hints(cls: type) -> dict[str, Any]:
    names = vars(sys.modules[cls.__module__])
    return typing.get_type_hints(cls, globalns=names, localns=names)


def build_sample(cls: type, high: bool, variant: int = 0) -> Any:
    """An instance of message dataclass `cls` that the schema allows.

    high: every optional field present, lists of up to 3 items, values at their upper limits (strings and
    bytes at maxLength); else only required fields, shortest lists, values at their lower limits. Of each
    choice group one alternative is set, picked by `variant`.
    """
    hints = _hints(cls)
    values: dict[str, Any] = {}
    groups: dict[int, list[dataclasses.Field]] = {}
    for f in dataclasses.fields(cls):
        if "choice" in f.metadata:
            groups.setdefault(f.metadata["choice"], []).append(f)
    chosen = {group: members[variant % len(members)].name for group, members in groups.items()}
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if "choice" in f.metadata:
            if chosen[f.metadata["choice"]] != f.name:
                continue
        elif not required and not high:
            continue
        values[f.name] = _sample_value(hints[f.name], f.metadata, high, variant)
    return cls(**values)


def _sample_value(annotation: Any, meta: Any, high: bool, variant: int) -> Any:
    if isinstance(annotation, UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        low_count, high_count = meta["count"]
        count = min(high_count or 3, 3) if high else max(low_count, 0)
        (item,) = typing.get_args(annotation)
        return [_sample_value(item, {k: v for k, v in meta.items() if k != "count"}, high, variant + i)
                for i in range(count)]
    if dataclasses.is_dataclass(annotation):
        return build_sample(annotation, high, variant)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = list(annotation)
        return members[-1] if high else members[0]
    if annotation is bool:
        return high
    if annotation is int:
        low, top = meta["range"]
        if high:
            return top if top is not None else 2**100
        return low if low is not None else -(2**100)
    low_length, top_length = meta["length"]
    length = (top_length if top_length is not None else 40) if high else low_length
    if annotation is bytes:
        return bytes((i * 37 + 255) % 256 for i in range(length))
    text = "Zürich €𝄞 " if high and variant % 2 else "EVSE-0123456789"
    return (text * (length // len(text) + 1))[:length]


def _body_messages(schema: str) -> list[str]:
    return [f.name for f in dataclasses.fields(_SCHEMA_TYPES[schema].Body)]


def _cases() -> list[Any]:
    return [pytest.param(schema, name, high, variant, id=f"{schema}-{name}-{'max' if high else 'min'}-{variant}")
            for schema in ("din", "iso2") for name in _body_messages(schema)
            for high in (False, True) for variant in (0, 1)]


def _message(schema: str, name: str, body_value: Any, header: Any = None) -> Any:
    types = _SCHEMA_TYPES[schema]
    header = header or types.MessageHeader(SessionID=bytes.fromhex("0102030405060708"))
    return types.V2G_Message(Header=header, Body=types.Body(**{name: body_value}))


@pytest.mark.parametrize(("schema", "name", "high", "variant"), _cases())
def test_message_round_trips(schema: str, name: str, high: bool, variant: int) -> None:
    types = _SCHEMA_TYPES[schema]
    body_class = _hints(types.Body)[name]
    body_class = next(a for a in typing.get_args(body_class) if a is not type(None))
    header = build_sample(types.MessageHeader, high, variant)
    message = _message(schema, name, build_sample(body_class, high, variant), header)
    data = exi.encode(schema, message)
    decoded = exi.decode(schema, data)
    assert decoded == message
    assert exi.message_type(decoded) == name
    assert exi.encode(schema, decoded) == data
    assert exi.from_json(schema, name, exi.to_json(decoded)) == message


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_signature_alternatives_round_trip(schema: str) -> None:
    """The xmldsig Signature in the header, with each KeyInfo alternative (KeyName ... MgmtData)."""
    types = _SCHEMA_TYPES[schema]
    seen = set()
    for variant in range(7):
        header = build_sample(types.MessageHeader, True, variant)
        seen.update(exi.to_json(header)["Signature"]["KeyInfo"])
        message = _message(schema, "SessionStopReq", build_sample(_hints(types.Body)["SessionStopReq"].__args__[0],
                                                                   True), header)
        assert exi.decode(schema, exi.encode(schema, message)) == message
    assert {"KeyName", "KeyValue", "RetrievalMethod", "X509Data", "PGPData", "SPKIData", "MgmtData"} <= seen


@pytest.mark.parametrize("high", [False, True])
def test_app_protocol_round_trips(high: bool) -> None:
    for cls, name in ((appproto.SupportedAppProtocolReq, "supportedAppProtocolReq"),
                      (appproto.SupportedAppProtocolRes, "supportedAppProtocolRes")):
        message = build_sample(cls, high)
        data = exi.encode("appproto", message)
        assert exi.decode("appproto", data) == message
        assert exi.message_type(message) == name
        assert exi.from_json("appproto", name, exi.to_json(message)) == message


def _current_demand_res(**changes: Any) -> Any:
    res = build_sample(din.CurrentDemandRes, high=False)
    return _message("din", "CurrentDemandRes", dataclasses.replace(res, **changes))


def _pv(value: int, multiplier: int = 0) -> Any:
    return din.PhysicalValue(Multiplier=multiplier, Unit=din.UnitSymbol.V, Value=value)


@pytest.mark.parametrize("multiplier", [-3, 3])
@pytest.mark.parametrize("value", [-32768, -129, -128, -1, 0, 127, 128, 16383, 16384, 32767])
def test_physical_value_limits_round_trip(multiplier: int, value: int) -> None:
    message = _current_demand_res(EVSEPresentVoltage=_pv(value, multiplier))
    assert exi.decode("din", exi.encode("din", message)) == message


@pytest.mark.parametrize(("multiplier", "value"), [(4, 0), (-4, 0), (0, 32768), (0, -32769), (0, 1.5), (0, "1")])
def test_physical_value_out_of_range_is_rejected(multiplier: int, value: Any) -> None:
    with pytest.raises(exi.ExiError) as caught:
        exi.encode("din", _current_demand_res(EVSEPresentVoltage=_pv(value, multiplier)))
    assert "EVSEPresentVoltage" in str(caught.value)


def _current_demand_req(soc: Any) -> Any:
    req = build_sample(din.CurrentDemandReq, high=True)
    status = dataclasses.replace(req.DC_EVStatus, EVRESSSOC=soc)
    return _message("din", "CurrentDemandReq", dataclasses.replace(req, DC_EVStatus=status))


@pytest.mark.parametrize("soc", [0, 100])
def test_soc_limits_round_trip(soc: int) -> None:
    message = _current_demand_req(soc)
    assert exi.decode("din", exi.encode("din", message)).Body.CurrentDemandReq.DC_EVStatus.EVRESSSOC == soc


@pytest.mark.parametrize("soc", [-1, 101, None, "50"])
def test_soc_out_of_range_is_rejected(soc: Any) -> None:
    with pytest.raises(exi.ExiError, match="EVRESSSOC"):
        exi.encode("din", _current_demand_req(soc))


@pytest.mark.parametrize(("field", "good", "bad"), [
    ("SessionID", b"\1" * 8, b"\1" * 9),
])
def test_header_binary_length_limit(field: str, good: bytes, bad: bytes) -> None:
    ok = _message("din", "SessionStopReq", din.SessionStop(), din.MessageHeader(**{field: good}))
    assert exi.decode("din", exi.encode("din", ok)) == ok
    with pytest.raises(exi.ExiError, match="maxLength 8|outside length"):
        exi.encode("din", _message("din", "SessionStopReq", din.SessionStop(), din.MessageHeader(**{field: bad})))


def test_string_limits_and_non_ascii_round_trip() -> None:
    for text in ("", "x" * 64, "Überspannung € 𝄞"):
        header = din.MessageHeader(SessionID=b"\0" * 8,
                                   Notification=din.Notification(FaultCode=din.FaultCode.UnknownError, FaultMsg=text))
        message = _message("din", "SessionStopReq", din.SessionStop(), header)
        assert exi.decode("din", exi.encode("din", message)) == message
    header = din.MessageHeader(SessionID=b"", Notification=din.Notification(FaultCode="ParsingError", FaultMsg="x" * 65))
    with pytest.raises(exi.ExiError, match="FaultMsg"):
        exi.encode("din", _message("din", "SessionStopReq", din.SessionStop(), header))


@pytest.mark.parametrize(("evse_id", "ok"), [("A" * 6, False), ("A" * 7, True), ("A" * 37, True), ("A" * 38, False)])
def test_iso2_evse_id_length_facets(evse_id: str, ok: bool) -> None:
    res = dataclasses.replace(build_sample(iso2.SessionSetupRes, high=False), EVSEID=evse_id)
    message = _message("iso2", "SessionSetupRes", res)
    if ok:
        assert exi.decode("iso2", exi.encode("iso2", message)) == message
    else:
        with pytest.raises(exi.ExiError, match="EVSEID"):
            exi.encode("iso2", message)


@pytest.mark.parametrize(("delay", "ok"), [(0, True), (2**32 - 1, True), (2**32, False), (-1, False)])
def test_unsigned_int_limits(delay: int, ok: bool) -> None:
    status = din.DC_EVSEStatus(EVSEStatusCode=din.DC_EVSEStatusCode.EVSE_Ready, NotificationMaxDelay=delay,
                               EVSENotification=din.EVSENotification.None_)
    message = _current_demand_res(DC_EVSEStatus=status)
    if ok:
        assert exi.decode("din", exi.encode("din", message)) == message
    else:
        with pytest.raises(exi.ExiError, match="NotificationMaxDelay"):
            exi.encode("din", message)


@pytest.mark.parametrize(("time", "ok"), [(-(2**63), True), (2**63 - 1, True), (2**63, False), (-(2**63) - 1, False)])
def test_long_limits(time: int, ok: bool) -> None:
    res = din.SessionSetupRes(ResponseCode=din.ResponseCode.OK, EVSEID=b"\x01", DateTimeNow=time)
    message = _message("din", "SessionSetupRes", res)
    if ok:
        assert exi.decode("din", exi.encode("din", message)) == message
    else:
        with pytest.raises(exi.ExiError, match="DateTimeNow"):
            exi.encode("din", message)


def test_plain_strings_work_as_enumeration_values() -> None:
    message = _current_demand_res(ResponseCode="FAILED_SequenceError")
    assert exi.decode("din", exi.encode("din", message)).Body.CurrentDemandRes.ResponseCode is \
        din.ResponseCode.FAILED_SequenceError


@pytest.mark.parametrize("changes", [
    {"ResponseCode": "NOT_A_CODE"}, {"ResponseCode": None}, {"EVSECurrentLimitAchieved": "yes"},
    {"EVSEPresentCurrent": None}, {"EVSEPresentCurrent": 5},
])
def test_invalid_field_values_are_rejected(changes: dict[str, Any]) -> None:
    (field,) = changes
    with pytest.raises(exi.ExiError, match=field):
        exi.encode("din", _current_demand_res(**changes))


def test_two_body_messages_are_rejected() -> None:
    message = _message("din", "SessionStopReq", din.SessionStop())
    message.Body.SessionStopRes = din.SessionStopRes(ResponseCode=din.ResponseCode.OK)
    with pytest.raises(exi.ExiError, match="not allowed"):
        exi.encode("din", message)


def test_missing_choice_is_rejected() -> None:
    req = din.ChargeParameterDiscoveryReq(EVRequestedEnergyTransferType=din.EVRequestedEnergyTransfer.DC_extended)
    with pytest.raises(exi.ExiError, match="ChargeParameterDiscoveryReq"):
        exi.encode("din", _message("din", "ChargeParameterDiscoveryReq", req))


@pytest.mark.parametrize("count", [0, 21])
def test_app_protocol_list_count_is_checked(count: int) -> None:
    protocol = build_sample(appproto.AppProtocol, high=False)
    with pytest.raises(exi.ExiError, match="items"):
        exi.encode("appproto", appproto.SupportedAppProtocolReq(AppProtocol=[protocol] * count))


def test_app_protocol_twenty_entries_round_trip() -> None:
    protocols = [appproto.AppProtocol(ProtocolNamespace=f"urn:x:{i}", VersionNumberMajor=2, VersionNumberMinor=i,
                                      SchemaID=i, Priority=i + 1) for i in range(20)]
    message = appproto.SupportedAppProtocolReq(AppProtocol=protocols)
    assert exi.decode("appproto", exi.encode("appproto", message)) == message


def test_wrong_message_class_is_rejected() -> None:
    with pytest.raises(exi.ExiError, match="not a document root"):
        exi.encode("din", din.SessionStop())
    with pytest.raises(exi.ExiError, match="unknown schema"):
        exi.encode("iso20", din.SessionStop())


@pytest.mark.parametrize(("fields", "reason"), [
    ({"Header": {"SessionID": "zz"}, "Body": {"SessionStopReq": {}}}, "not hex"),
    ({"Header": {"SessionID": "00"}, "Body": {"SessionStopReq": {}}, "Extra": 1}, "unknown field"),
    ({"Header": {}, "Body": {"SessionStopReq": {}}}, "required field missing"),
    ({"Header": {"SessionID": "00"}, "Body": {"SessionStopRes": {"ResponseCode": "NOPE"}}}, "not one of"),
    ({"Header": {"SessionID": "00"}, "Body": {"SessionStopReq": {}}}, "not a CurrentDemandReq"),
])
def test_from_json_rejects_bad_fields(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(exi.ExiError, match=reason):
        exi.from_json("din", "CurrentDemandReq" if "SessionStopReq" in fields["Body"] else "SessionStopRes", fields)


def test_to_json_form() -> None:
    message = _current_demand_res(EVSEPresentVoltage=_pv(4128, -1))
    fields = exi.to_json(message)
    assert fields["Header"] == {"SessionID": "0102030405060708"}
    assert fields["Body"]["CurrentDemandRes"]["EVSEPresentVoltage"] == {"Multiplier": -1, "Unit": "V", "Value": 4128}
    assert fields["Body"]["CurrentDemandRes"]["ResponseCode"] == "OK"
