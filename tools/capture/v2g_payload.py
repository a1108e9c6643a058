"""Decode the V2GTP payloads of one TCP connection, following its AppProtocol handshake.

The first request and response are supportedAppProtocolReq/Res; the response's SchemaID names one of the
namespaces the request offered, and that namespace's schema decodes everything after. A capture that starts
after the handshake is decoded by trying DIN, then ISO 15118-2, and keeping the first that fits.
"""

from __future__ import annotations

from typing import Any

from controller.v2g import exi, v2gtp

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
        self.schema: str | None = "appproto"
        self._offered: dict[int, str] = {}
        self._handshake_seen = False
        self._failure = ""

    @property
    def schema_name(self) -> str:
        return self.schema or "unknown"

    def decode(self, payload_type: int, payload: bytes, from_ev: bool) -> dict[str, Any]:
        if payload_type != v2gtp.PAYLOAD_EXI:
            return {"schema": self.schema_name, "type": f"PayloadType_0x{payload_type:04X}",
                    "error": f"V2GTP payload type {payload_type:#06x} is not EXI"}
        if self.schema is None:
            return {"schema": "unknown", "type": "ExiError", "error": self._failure}
        try:
            message = exi.decode(self.schema, payload)
        except exi.ExiError as exc:
            guessed = self._guess(payload) if self.schema == "appproto" and not self._handshake_seen else None
            if guessed is None:
                return {"schema": self.schema, "type": "ExiError", "error": str(exc)}
            message = guessed
        schema = self.schema
        type_name = exi.message_type(message)
        fields = exi.to_json(message)
        if schema == "appproto":
            self._follow_handshake(type_name, fields)
        return {"schema": schema, "type": type_name, "fields": fields}

    def _guess(self, payload: bytes) -> object | None:
        for schema in _GUESSES:
            try:
                message = exi.decode(schema, payload)
            except exi.ExiError:
                continue
            self.schema = schema
            self._handshake_seen = True
            return message
        return None

    def _follow_handshake(self, type_name: str, fields: dict[str, Any]) -> None:
        self._handshake_seen = True
        if type_name == "supportedAppProtocolReq":
            self._offered = {int(entry["SchemaID"]): str(entry["ProtocolNamespace"])
                             for entry in fields.get("AppProtocol", [])}
        elif type_name == "supportedAppProtocolRes":
            self._choose(fields.get("SchemaID"))

    def _choose(self, schema_id: Any) -> None:
        if schema_id is None:
            self.schema, self._failure = None, "the AppProtocol handshake chose no schema"
            return
        namespace = self._offered.get(int(schema_id))
        if namespace is None:
            self.schema, self._failure = None, f"the handshake chose SchemaID {schema_id}, which was not offered"
            return
        self.schema = SCHEMA_BY_NAMESPACE.get(namespace)
        if self.schema is None:
            self._failure = f"the handshake chose {namespace}, which this tool does not decode"
