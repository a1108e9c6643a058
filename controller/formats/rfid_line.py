"""The RFID reader's line protocol (ours, docs/rfid-reader-protocol.md), shared by the driver and the rig.

One ASCII line per card shown: `TOKEN <type> <id>*<cs>` and LF (a CR before it is ignored). <cs> is two
hex digits, the XOR of every byte before the `*`, as in NMEA 0183. Anything else is rejected with a reason.
"""
from __future__ import annotations

MAX_LINE = 80  # bytes before the LF; a longer run is noise, not a message
# the OCPP 2.0.1 idToken types a card reader can give, and their value's form
READER_TYPES = ("ISO14443", "ISO15693", "KeyCode")
HEX = set("0123456789ABCDEF")


class RfidLineRejected(ValueError):
    """A line that is not a valid message; the text says why."""


def checksum(body: bytes) -> int:
    value = 0
    for byte in body:
        value ^= byte
    return value


def encode(id_token: str, token_type: str = "ISO14443") -> bytes:
    body = f"TOKEN {token_type} {id_token}".encode("ascii")
    return body + b"*%02X\n" % checksum(body)


def parse(line: bytes) -> tuple[str, str]:
    """One line without its LF -> (idToken, type). Raises RfidLineRejected."""
    line = line.removesuffix(b"\r")
    if len(line) > MAX_LINE:
        raise RfidLineRejected(f"line too long ({len(line)} bytes, at most {MAX_LINE})")
    if any(b < 0x20 or b > 0x7E for b in line):
        raise RfidLineRejected("not printable ASCII")
    body, star, tail = line.rpartition(b"*")
    if not star:
        raise RfidLineRejected("no checksum (*XX at the end)")
    if len(tail) != 2 or not set(tail.decode().upper()) <= HEX:
        raise RfidLineRejected(f"checksum {tail.decode()!r} is not two hex digits")
    if int(tail, 16) != checksum(body):
        raise RfidLineRejected(f"checksum mismatch (line says {tail.decode().upper()}, "
                               f"computed {checksum(body):02X})")
    words = body.decode().split(" ")
    if words[0] != "TOKEN":
        raise RfidLineRejected(f"unknown message {words[0][:12]!r}")
    if len(words) != 3:
        raise RfidLineRejected("TOKEN needs a type and an id")
    token_type, value = words[1], words[2]
    if token_type not in READER_TYPES:
        raise RfidLineRejected(f"token type {token_type[:12]!r} is not one of {', '.join(READER_TYPES)}")
    if token_type == "KeyCode":
        if not (value.isdigit() and 1 <= len(value) <= 20):
            raise RfidLineRejected("a KeyCode is 1 to 20 digits")
    elif not (set(value) <= HEX and len(value) in (8, 14, 16, 20)):
        raise RfidLineRejected(f"a {token_type} UID is 4, 7, 8 or 10 bytes in upper-case hex")
    return value, token_type
