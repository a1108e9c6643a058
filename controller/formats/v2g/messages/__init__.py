"""Typed V2G messages: one dataclass per schema type, generated from the XSDs by tools/exi_grammar_gen.py.

    from controller.formats.v2g.messages import din, iso2, appproto

`appproto` holds the handshake (SupportedAppProtocolReq/Res); `din` and `iso2` hold V2G_Message with its
Header and Body, where the Body has one optional field per message (CurrentDemandReq, ...) and exactly one
is set. Class names are the schema type names without the "Type" suffix (CurrentDemandReqType ->
CurrentDemandReq, PhysicalValueType -> PhysicalValue, responseCodeType -> ResponseCode; note DIN's
SessionStopReq element has the type SessionStopType, so its class is din.SessionStop); enumerations are
StrEnums, so plain strings such as "OK" work wherever an enumeration is expected. json_form renders them.
"""
