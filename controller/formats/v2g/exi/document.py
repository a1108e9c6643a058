"""EXI stream framing around a generated codec: header byte, document grammar, end and padding.

V2G streams start with the header byte 0x80 (distinguishing bits 10, no options, version 1). The document
grammar then gives SE(root) as an n-bit code over all global elements of the schema (2 bits for the
AppProtocol handshake, 7 for DIN and ISO 15118-2), the root element's content follows, and ED takes no
bits. The stream is padded with zero bits to a whole byte. Whole zero bytes after it are accepted (a Tesla
Model Y sends one after ContractAuthenticationReq); any other data after the end is an error.
Values outside the schema's facets that the decoder kept end up on the root message's `warnings`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from controller.formats.v2g.exi import element_fragment
from controller.formats.v2g.exi.errors import ExiError, decode_failure
from controller.formats.v2g.exi.primitives import found

HEADER = 0x80
# Reads shift the whole payload int, so their cost grows with its size: this cap keeps a hostile input
# with many tiny elements near 0.1 s. V2G stacks commonly use 8 KiB buffers; ISO 15118-2's largest
# message (CertificateInstallationRes with full chains) stays under 10 KiB.
MAX_PAYLOAD_BYTES = 16384


def decode_document(codec: ModuleType, data: bytes) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ExiError(f"bytes expected, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ExiError("empty input")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ExiError(f"payload of {len(data)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")
    if data[0] != HEADER:
        raise ExiError(f"EXI header byte is {data[0]:#04x}, V2G uses 0x80 (no options, no cookie)")
    total = len(data) * 8
    v = int.from_bytes(data, "big")
    violations = found.violations
    if violations:  # left by a decode that failed
        violations.clear()
    r = total - 8 - codec.DOC_BITS
    root = ""
    try:
        code = (v >> r) & ((1 << codec.DOC_BITS) - 1)
        if code not in codec.ROOT_DECODERS:
            raise ExiError(f"document root code {code} is not a message this codec decodes")
        root, decoder = codec.ROOT_DECODERS[code]
        message, r = decoder(v, r)
    except Exception as exc:  # generated code raises ExiError; anything else is bad input too
        error = decode_failure(exc, root, r)
        _locate(error, total)
        raise error from None
    if r >= 8 and v & ((1 << r) - 1):  # zero bytes after the end: sloppy padding seen from a Tesla Model Y
        error = ExiError(f"{r // 8} bytes of data after the end of the document")
        error.bit = total - r
        raise error
    if violations:
        message._warnings = tuple(violations)
        violations.clear()
    return message


def encode_document(codec: ModuleType, message: Any) -> bytes:
    entry = codec.ROOT_ENCODERS.get(type(message))
    if entry is None:
        raise ExiError(f"{type(message).__name__} is not a document root of this schema")
    code, encoder = entry
    a = (((1 << 8) | HEADER) << codec.DOC_BITS) | code  # leading 1: sentinel that keeps leading zero bits
    a = encoder(message, a)
    bits = a.bit_length() - 1
    padding = -bits % 8
    return (a << padding).to_bytes((bits + padding) // 8 + 1, "big")[1:]


def encode_fragment(codec: ModuleType, table: str, element: str, message: Any) -> bytes:
    """`message` as the EXI fragment of one `element` (EXI 1.0 section 8.5.2) in the codec's fragment grammar
    `table` ("FRAGMENT": the message schema's, "XMLDSIG_FRAGMENT": xmldsig's): header, SE(element), its
    content, ED, zero padding. What ISO 15118-2 digests and signs."""
    encoders = getattr(codec, f"{table}_ENCODERS", None)
    if encoders is None:
        raise ExiError(f"this schema has no {table} grammar")
    relaxed = element_fragment.relaxed_names(codec, table)
    if element not in encoders and element not in relaxed:
        raise ExiError(f"{element} is not an element of the {table} grammar this codec encodes")
    code = encoders[element][0] if element in encoders else relaxed[element][0]
    bits = getattr(codec, f"{table}_BITS")
    a = (((1 << 8) | HEADER) << bits) | code  # leading 1: sentinel that keeps leading zero bits
    if element in encoders:
        a = encoders[element][1](message, a)
    else:  # declared with differing types: the relaxed element fragment grammar (EXI 8.5.3)
        a = element_fragment.encode(codec, table, element, message, a)
    a = (a << bits) | getattr(codec, f"{table}_END")
    total = a.bit_length() - 1
    padding = -total % 8
    return (a << padding).to_bytes((total + padding) // 8 + 1, "big")[1:]


def decode_fragment(codec: ModuleType, table: str, data: bytes) -> list[tuple[str, Any]]:
    """The (element, message) pairs of an EXI fragment in the codec's fragment grammar `table`, in order."""
    decoders = getattr(codec, f"{table}_DECODERS", None)
    if decoders is None:
        raise ExiError(f"this schema has no {table} grammar")
    data = bytes(data)
    if not data or data[0] != HEADER:
        raise ExiError("an EXI fragment starts with the header byte 0x80")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ExiError(f"payload of {len(data)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")
    bits, end = getattr(codec, f"{table}_BITS"), getattr(codec, f"{table}_END")
    relaxed = {code: name for name, (code, _) in element_fragment.relaxed_names(codec, table).items()}
    total = len(data) * 8
    v, r = int.from_bytes(data, "big"), total - 8
    elements: list[tuple[str, Any]] = []
    element = ""
    try:
        while True:
            if r < bits:
                raise ExiError(f"input truncated ({len(data)} bytes) before the fragment's end")
            r -= bits
            code = (v >> r) & ((1 << bits) - 1)
            if code == end:
                break
            if code in relaxed:
                element = relaxed[code]
                message, r = element_fragment.decode(codec, table, element, v, r)
                elements.append((element, message))
                continue
            if code not in decoders:
                raise ExiError(f"fragment element code {code} is not an element this codec decodes")
            element, decoder = decoders[code]
            message, r = decoder(v, r)
            elements.append((element, message))
    except Exception as exc:  # generated code raises ExiError; anything else is bad input too
        error = decode_failure(exc, element, r)
        _locate(error, total)
        raise error from None
    if r >= 8 or v & ((1 << r) - 1):
        raise ExiError("data after the fragment's end")
    found.violations.clear()
    return elements


def _locate(error: ExiError, total: int) -> None:
    remaining = error.remaining if error.remaining is not None else 0
    if error.reason == "input truncated":
        error.bit = total
        error.reason = f"input truncated ({total // 8} bytes)"
    else:
        error.bit = total - remaining
