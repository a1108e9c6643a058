"""Pure-Python, schema-informed EXI codec for V2G: the AppProtocol handshake, DIN SPEC 70121, ISO 15118-2.

    from controller.formats.v2g.exi import ExiError, decode, encode, SCHEMAS, message_type, to_json, from_json

    msg = decode("din", payload)          # V2G_Message dataclass; ExiError(reason) on any bad input
    data = encode("din", msg)             # bytes; ExiError if the message breaks the schema
    message_type(msg)                     # "CurrentDemandReq", "supportedAppProtocolReq", ...
    to_json(msg)                          # {"Header": {...}, "Body": {"CurrentDemandReq": {...}}}
    from_json("din", "CurrentDemandReq", to_json(msg)) == msg

Payloads are the EXI bytes without the V2GTP header. For "din" and "iso2" the message is the whole
V2G_Message (Header + Body with one message, see controller.formats.v2g.messages); for "appproto" it is
SupportedAppProtocolReq or SupportedAppProtocolRes. to_json bytes are hex strings, enumerations their
schema literal, PhysicalValues {"Multiplier", "Unit", "Value"} (see messages.json_form).

The codec functions are generated per schema (din_gen.py, ...) by tools/exi_grammar_gen.py: straight-line
code per complex type on one Python int holding the payload. A new schema (ISO 15118-20) needs an entry in
the generator's SCHEMAS and its name in SCHEMAS here; nothing else in the runtime changes.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from controller.formats.v2g.exi.document import decode_document, decode_fragment as _unfragment, encode_document
from controller.formats.v2g.exi.document import encode_fragment as _fragment
from controller.formats.v2g.exi.errors import ExiError
from controller.formats.v2g.messages import json_form

__all__ = ["ExiError", "SCHEMAS", "decode", "decode_fragment", "encode", "encode_fragment", "from_json", "message_type",
           "to_json"]
FRAGMENT_GRAMMARS = {"message": "FRAGMENT", "xmldsig": "XMLDSIG_FRAGMENT"}

SCHEMAS = ("appproto", "din", "iso2")
# Generated modules: controller/formats/v2g/exi/<schema>_gen.py (codec), controller/formats/v2g/messages/<schema>.py (types).
_CODECS: dict[str, ModuleType] = {name: importlib.import_module(f"{__name__}.{name}_gen") for name in SCHEMAS}
_TYPES: dict[str, ModuleType] = {name: importlib.import_module(f"controller.formats.v2g.messages.{name}") for name in SCHEMAS}


def _codec(schema: str) -> ModuleType:
    codec = _CODECS.get(schema)
    if codec is None:
        raise ExiError(f"unknown schema {schema!r}, expected one of {', '.join(SCHEMAS)}")
    return codec


def decode(schema: str, payload: bytes) -> Any:
    """Decode one EXI document (no V2GTP header); ExiError with the reason on any bad input."""
    return decode_document(_codec(schema), payload)


def encode(schema: str, message: Any) -> bytes:
    """Encode a message of `schema`; ExiError when a value breaks the schema (range, length, choice...)."""
    return encode_document(_codec(schema), message)


def encode_fragment(schema: str, element: str, message: Any, grammar: str = "message") -> bytes:
    """`message` (the element's type, e.g. an AuthorizationReq or a SignedInfo) as the EXI fragment of
    `element`: the bytes an ISO 15118-2 XML signature digests ("message": the message schema's fragment
    grammar, for signed body elements) or signs ("xmldsig": the xmldsig schema's, for SignedInfo)."""
    table = FRAGMENT_GRAMMARS.get(grammar)
    if table is None:
        raise ExiError(f"unknown fragment grammar {grammar!r}, expected one of {', '.join(FRAGMENT_GRAMMARS)}")
    codec = _codec(schema)
    entry = getattr(codec, f"{table}_ENCODERS", {}).get(element)
    expected = getattr(_TYPES[schema], entry[1].__name__[3:], None) if entry else None
    if expected is not None and not isinstance(message, expected):
        raise ExiError(f"{element} is a {expected.__name__}, got {type(message).__name__}")
    return _fragment(codec, table, element, message)


def decode_fragment(schema: str, data: bytes, grammar: str = "message") -> list[tuple[str, Any]]:
    """The (element name, message) pairs of an EXI fragment, in order; ExiError on bad input."""
    table = FRAGMENT_GRAMMARS.get(grammar)
    if table is None:
        raise ExiError(f"unknown fragment grammar {grammar!r}, expected one of {', '.join(FRAGMENT_GRAMMARS)}")
    return _unfragment(_codec(schema), table, data)


def message_type(message: Any) -> str:
    """The element name of the message: the Body's message for V2G_Message, else the root element."""
    body = getattr(message, "Body", None)
    if body is not None and type(message).__name__ == "V2G_Message":
        for name in body.__slots__:
            if getattr(body, name) is not None:
                return name
        return "V2G_Message"
    for module in _TYPES.values():
        if getattr(module, type(message).__name__, None) is type(message):
            return module.ROOT_ELEMENTS.get(type(message).__name__, type(message).__name__)
    raise ExiError(f"{type(message).__name__} is not a V2G message")


def to_json(message: Any) -> dict[str, Any]:
    """The message's fields as a JSON-able dict (see messages.json_form for the shape)."""
    return json_form.to_dict(message)


def from_json(schema: str, type_name: str, fields: dict[str, Any]) -> Any:
    """Inverse of to_json: `type_name` is what message_type gives; ExiError naming a bad field."""
    _codec(schema)
    types = _TYPES[schema]
    roots = {element: name for name, element in types.ROOT_ELEMENTS.items()}
    if type_name in roots:
        return json_form.from_dict(getattr(types, roots[type_name]), fields)
    if "V2G_Message" not in roots:
        raise ExiError(f"{type_name!r} is not a message of {schema}")
    message = json_form.from_dict(types.V2G_Message, fields)
    if message_type(message) != type_name:
        raise ExiError(f"fields hold a {message_type(message)}, not a {type_name}")
    return message
