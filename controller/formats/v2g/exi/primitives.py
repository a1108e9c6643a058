"""EXI value encodings that generated code calls when they do not fit in a few inline shifts.

Decoding works on the whole payload as one int `v`; `r` counts the bits not yet read, so the next n bits
are `(v >> (r - n)) & mask`. Reading past the end makes the shift count negative, which Python reports as
ValueError and errors.decode_failure turns into "input truncated". Encoding appends to an int `a` that
starts with a sentinel 1 bit: `a = (a << n) | bits`.

Decoding is liberal: a value (or length) that its bit field carries but the schema's facets forbid is kept
and recorded as a FacetViolation for document.decode_document to attach to the message; encoding is strict.
Lengths are checked against the bits left before anything is allocated, so hostile input cannot make the
decoder build large objects.
"""

from __future__ import annotations

import threading

from controller.formats.v2g.exi.errors import ExiError
from controller.formats.v2g.messages.document_root import FacetViolation


class _Found(threading.local):
    def __init__(self) -> None:
        self.violations: list[FacetViolation] = []


# Per thread, so decoders running in several threads keep their findings apart.
found = _Found()


def facet(where: str, value: int, lo: int | None, hi: int | None) -> None:
    """A decoded integer outside its schema range: keep it, note it."""
    found.violations.append(FacetViolation(where, "range", value, lo, hi))


def _length_facet(where: str, length: int, max_length: int) -> None:
    found.violations.append(FacetViolation(where, "length", length, 0, max_length))

_MAX_VARINT_BITS = 280  # covers xs:integer values of 40 octets (X509 serial numbers are at most 20)


def uint_tail(v: int, r: int, first: int) -> tuple[int, int]:
    """Rest of an unsigned varint whose first octet (continuation bit set) was already read."""
    value = first & 127
    shift = 7
    while True:
        r -= 8
        octet = (v >> r) & 255
        value |= (octet & 127) << shift
        if octet < 128:
            return value, r
        shift += 7
        if shift > _MAX_VARINT_BITS:
            raise ExiError("integer too large")


def uint_checked(v: int, r: int, first: int, lo: int, hi: int | None, where: str) -> tuple[int, int]:
    value, r = uint_tail(v, r, first) if first > 127 else (first, r)
    if value < lo or (hi is not None and value > hi):
        facet(where, value, lo, hi)
    return value, r


def int_tail(v: int, r: int, nine: int, lo: int | None, hi: int | None, where: str) -> tuple[int, int]:
    """Signed integer from its sign bit and first octet (`nine` = the 9 bits), range-checked."""
    value, r = uint_tail(v, r, nine & 255) if nine & 128 else (nine & 127, r)
    if nine & 256:
        value = -value - 1
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        facet(where, value, lo, hi)
    return value, r


def string(v: int, r: int, max_length: int | None, where: str) -> tuple[str, int]:
    """String value: varint(length + 2) then one varint per code point (no string table in V2G)."""
    r -= 8
    length = (v >> r) & 255
    if length > 127:
        length, r = uint_tail(v, r, length)
    if length < 2:
        raise ExiError("string table reference, but V2G uses no value string table")
    length -= 2
    if length * 8 > r:
        raise ExiError("input truncated")
    r -= length * 8
    octets = ((v >> r) & ((1 << (length * 8)) - 1)).to_bytes(length, "big")
    if octets.isascii():
        if max_length is not None and length > max_length:
            _length_facet(where, length, max_length)
        return octets.decode("ascii"), r
    r += length * 8
    chars = []
    for _ in range(length):
        r -= 8
        code = (v >> r) & 255
        if code > 127:
            code, r = uint_tail(v, r, code)
            if code > 0x10FFFF:
                raise ExiError(f"code point {code:#x} out of range")
        chars.append(chr(code))
    text = "".join(chars)
    if max_length is not None and length > max_length:
        _length_facet(where, length, max_length)
    return text, r


def binary(v: int, r: int, max_length: int | None, where: str) -> tuple[bytes, int]:
    """hexBinary or base64Binary value: varint(length) then the octets."""
    r -= 8
    length = (v >> r) & 255
    if length > 127:
        length, r = uint_tail(v, r, length)
    if max_length is not None and length > max_length:
        _length_facet(where, length, max_length)
    if length * 8 > r:
        raise ExiError("input truncated")
    r -= length * 8
    return ((v >> r) & ((1 << (length * 8)) - 1)).to_bytes(length, "big"), r


def put_uint(a: int, value: int, lo: int, hi: int | None) -> int:
    if not isinstance(value, int):
        raise ExiError(f"integer expected, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ExiError(f"value {value} out of range {lo}..{hi}")
    return _varint(a, value)


def put_int(a: int, value: int, lo: int | None, hi: int | None) -> int:
    if not isinstance(value, int):
        raise ExiError(f"integer expected, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ExiError(f"value {value} out of range {lo}..{hi}")
    if value < 0:
        return _varint((a << 1) | 1, -value - 1)
    return _varint(a << 1, value)


def put_string(a: int, value: str, min_length: int, max_length: int | None) -> int:
    if not isinstance(value, str):
        raise ExiError(f"string expected, got {type(value).__name__}")
    length = len(value)
    if length < min_length or (max_length is not None and length > max_length):
        raise ExiError(f"string of {length} characters outside length {min_length}..{max_length}")
    a = _varint(a, length + 2)
    if value.isascii():
        return (a << (length * 8)) | int.from_bytes(value.encode("ascii"), "big")
    for char in value:
        a = _varint(a, ord(char))
    return a


def put_binary(a: int, value: bytes, min_length: int, max_length: int | None) -> int:
    if not isinstance(value, (bytes, bytearray)):
        raise ExiError(f"bytes expected, got {type(value).__name__}")
    length = len(value)
    if length < min_length or (max_length is not None and length > max_length):
        raise ExiError(f"{length} octets outside length {min_length}..{max_length}")
    return (_varint(a, length) << (length * 8)) | int.from_bytes(value, "big")


def _varint(a: int, value: int) -> int:
    while value > 127:
        a = (a << 8) | 128 | (value & 127)
        value >>= 7
    return (a << 8) | value
