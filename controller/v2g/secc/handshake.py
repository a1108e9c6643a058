"""SupportedAppProtocol negotiation (ISO 15118-2 section 8.2, DIN SPEC 70121 section 8.2).

The car lists the protocols it speaks with a priority each (1 = preferred). We answer with the SchemaID of
the highest-priority one we support. Teslas offer `urn:tesla:din:2018:MsgDef` next to DIN; it is DIN on the
wire, so it maps to the DIN codec, and when DIN is offered too we answer DIN's SchemaID (known to work
with Teslas; whether their own SchemaID does is not).
"""
from __future__ import annotations

from dataclasses import dataclass

from controller.formats.v2g.messages import appproto

DIN_NAMESPACE = "urn:din:70121:2012:MsgDef"
ISO2_NAMESPACE = "urn:iso:15118:2:2013:MsgDef"
TESLA_NAMESPACE = "urn:tesla:din:2018:MsgDef"

# namespace -> (codec schema, major version we speak)
SUPPORTED = {DIN_NAMESPACE: ("din", 2), ISO2_NAMESPACE: ("iso2", 2), TESLA_NAMESPACE: ("din", None)}


@dataclass(frozen=True)
class Agreement:
    schema: str          # "din" or "iso2": the codec for the rest of the session
    namespace: str
    schema_id: int
    minor_deviation: bool


def choose_protocol(request: appproto.SupportedAppProtocolReq,
                     allowed: tuple[str, ...] = ("din", "iso2")) -> Agreement | None:
    """The car's highest-priority protocol among those we speak and allow; None when there is none."""
    for offer in sorted(request.AppProtocol, key=lambda p: p.Priority):
        known = SUPPORTED.get(offer.ProtocolNamespace)
        if known is None or known[0] not in allowed:
            continue
        schema, major = known
        if major is not None and offer.VersionNumberMajor != major:
            continue
        if offer.ProtocolNamespace == TESLA_NAMESPACE:
            offer = next((p for p in request.AppProtocol if p.ProtocolNamespace == DIN_NAMESPACE
                          and p.VersionNumberMajor == 2), offer)
        return Agreement(schema, offer.ProtocolNamespace, offer.SchemaID,
                         minor_deviation=major is not None and offer.VersionNumberMinor != 0)
    return None


def answer(agreement: Agreement | None) -> appproto.SupportedAppProtocolRes:
    if agreement is None:
        return appproto.SupportedAppProtocolRes(ResponseCode=appproto.ResponseCode.Failed_NoNegotiation)
    code = (appproto.ResponseCode.OK_SuccessfulNegotiationWithMinorDeviation if agreement.minor_deviation
            else appproto.ResponseCode.OK_SuccessfulNegotiation)
    return appproto.SupportedAppProtocolRes(ResponseCode=code, SchemaID=agreement.schema_id)
