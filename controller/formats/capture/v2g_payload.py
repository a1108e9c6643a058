"""Decode the V2GTP payloads of one TCP connection, following its AppProtocol handshake.

The first request and response are supportedAppProtocolReq/Res; the response's SchemaID names one of the
namespaces the request offered, and that namespace's schema decodes everything after. When the handshake
failed (no schema chosen, a SchemaID not offered) or its response is missing, the messages are decoded with
the schemas of the namespaces the car offered, in the car's priority order, and the first that fits stays.
A capture that starts after the handshake is decoded the same way with DIN, then ISO 15118-2.
"""

from __future__ import annotations

from typing import Any

from controller.formats.v2g import exi, v2gtp

SCHEMA_BY_NAMESPACE = {
    "urn:din:70121:2012:MsgDef": "din",
    "urn:tesla:din:2018:MsgDef": "din",  # Teslas offer it next to DIN; the messages are DIN's
    "urn:iso:15118:2:2013:MsgDef": "iso2",
    "urn:iso:15118:2:2010:MsgDef": "iso2",
}
_GUESSES = ("din", "iso2")


class V2gDecoder:
    """Per-connection schema state. `decode` returns the keyword values of a DissectedMessage."""

    def __init__(self) -> None:
        self.schema: str | None = "appproto"  # None: the handshake picked nothing decodable, try `candidates`
        self._offered: list[tuple[int, int, str]] = []  # (priority, SchemaID, namespace) as the car offered
        self._failure = ""

    @property
    def schema_name(self) -> str:
        return self.schema or "unknown"

    @property
    def candidates(self) -> tuple[str, ...]:
        """Schemas to try without a handshake that chose one: the car's offer, else every V2G schema."""
        if not self._offered:
            return _GUESSES
        ordered = [SCHEMA_BY_NAMESPACE.get(namespace) for _, _, namespace in sorted(self._offered)]
        return tuple(dict.fromkeys(schema for schema in ordered if schema))

    def decode(self, payload_type: int, payload: bytes) -> dict[str, Any]:
        if payload_type != v2gtp.PAYLOAD_EXI:
            return {"schema": self.schema_name, "type": f"PayloadType_0x{payload_type:04X}",
                    "error": f"V2GTP payload type {payload_type:#06x} is not EXI"}
        if self.schema is None:
            message = self._try_candidates(payload)
            if message is None:
                return {"schema": "unknown", "type": "ExiError", "error": self._candidates_failed()}
        else:
            try:
                message = exi.decode(self.schema, payload)
            except exi.ExiError as exc:
                message = self._try_candidates(payload) if self.schema == "appproto" else None
                if message is None:
                    return {"schema": self.schema, "type": "ExiError", "error": str(exc)}
        schema = self.schema
        type_name = exi.message_type(message)
        fields = exi.to_json(message)
        if schema == "appproto":
            self._follow_handshake(type_name, fields)
        result = {"schema": schema, "type": type_name, "fields": fields}
        if message.warnings:
            result["warnings"] = [str(warning) for warning in message.warnings]
        return result

    def _try_candidates(self, payload: bytes) -> object | None:
        """The first candidate schema that decodes the payload becomes the connection's schema."""
        for schema in self.candidates:
            try:
                message = exi.decode(schema, payload)
            except exi.ExiError:
                continue
            self.schema = schema
            return message
        return None

    def _candidates_failed(self) -> str:
        if not self.candidates:
            offered = ", ".join(namespace for _, _, namespace in sorted(self._offered))
            return f"{self._failure}; the car offered no namespace this tool decodes ({offered})"
        return f"{self._failure}; the message decodes with none of the offered {', '.join(self.candidates)}"

    def _follow_handshake(self, type_name: str, fields: dict[str, Any]) -> None:
        if type_name == "supportedAppProtocolReq":
            self._offered = [(int(entry["Priority"]), int(entry["SchemaID"]), str(entry["ProtocolNamespace"]))
                             for entry in fields.get("AppProtocol", [])]
        elif type_name == "supportedAppProtocolRes":
            self._choose(fields.get("SchemaID"))

    def _choose(self, schema_id: Any) -> None:
        if schema_id is None:
            self.schema, self._failure = None, "the AppProtocol handshake chose no schema"
            return
        namespaces = {offered_id: namespace for _, offered_id, namespace in self._offered}
        namespace = namespaces.get(int(schema_id))
        if namespace is None:
            self.schema = None
            self._failure = f"the handshake chose SchemaID {schema_id}, which was not offered"
            return
        self.schema = SCHEMA_BY_NAMESPACE.get(namespace)
        if self.schema is None:
            self._failure = f"the handshake chose {namespace}, which this tool does not decode"
