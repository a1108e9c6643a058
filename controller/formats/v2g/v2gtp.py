"""V2GTP framing (ISO 15118-2 section 7.8.3, DIN SPEC 70121 section 8.7.3) and the SDP payloads.

Every V2G message travels in an 8-byte header: version 0x01, inverted version 0xFE, a 2-byte payload type
and a 4-byte big-endian payload length, all network byte order. Pure functions only: the V2GTP server,
the SDP server and the capture dissector share them.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

PROTOCOL_VERSION = 0x01
INVERSE_PROTOCOL_VERSION = 0xFE
HEADER_LENGTH = 8
HEADER_MAGIC = bytes((PROTOCOL_VERSION, INVERSE_PROTOCOL_VERSION))

PAYLOAD_EXI = 0x8001
PAYLOAD_SDP_REQUEST = 0x9000
PAYLOAD_SDP_RESPONSE = 0x9001
PAYLOAD_TYPE_NAMES = {
    PAYLOAD_EXI: "EXI",
    PAYLOAD_SDP_REQUEST: "SDP request",
    PAYLOAD_SDP_RESPONSE: "SDP response",
}

# The standard allows 4 GiB; no DIN/ISO-2 message comes near 64 KiB (certificate chains are a few kB),
# so anything larger is a broken or hostile peer and must not make us allocate it.
MAX_PAYLOAD_LENGTH = 64 * 1024

SDP_PORT = 15118
SDP_SECURITY_TLS = 0x00
SDP_SECURITY_NONE = 0x10
SDP_TRANSPORT_TCP = 0x00
SDP_TRANSPORT_UDP = 0x10
SDP_REQUEST_LENGTH = 2
SDP_RESPONSE_LENGTH = 20
_SECURITY_NAMES = {SDP_SECURITY_TLS: "TLS", SDP_SECURITY_NONE: "none"}
_TRANSPORT_NAMES = {SDP_TRANSPORT_TCP: "TCP", SDP_TRANSPORT_UDP: "UDP"}


class V2gtpError(ValueError):
    """A V2GTP header or SDP payload that violates the format; the message gives the reason."""


@dataclass(frozen=True)
class V2gtpHeader:
    payload_type: int
    payload_length: int

    @property
    def frame_length(self) -> int:
        return HEADER_LENGTH + self.payload_length


def parse_header(data: bytes, max_payload_length: int = MAX_PAYLOAD_LENGTH) -> V2gtpHeader:
    """Parse the first 8 bytes of `data` as a V2GTP header (the payload itself need not be present)."""
    if len(data) < HEADER_LENGTH:
        raise V2gtpError(f"V2GTP header needs {HEADER_LENGTH} bytes, got {len(data)}")
    version, inverse, payload_type, length = struct.unpack_from(">BBHI", data)
    if version != PROTOCOL_VERSION or inverse != INVERSE_PROTOCOL_VERSION:
        raise V2gtpError(f"bad V2GTP version bytes {version:02x} {inverse:02x}, expected 01 fe")
    if length > max_payload_length:
        raise V2gtpError(f"V2GTP payload length {length} exceeds the limit of {max_payload_length} bytes")
    return V2gtpHeader(payload_type, length)


def build_header(payload_type: int, payload_length: int) -> bytes:
    if not 0 <= payload_type <= 0xFFFF:
        raise V2gtpError(f"payload type {payload_type} does not fit in 16 bits")
    if not 0 <= payload_length <= 0xFFFFFFFF:
        raise V2gtpError(f"payload length {payload_length} does not fit in 32 bits")
    return struct.pack(">BBHI", PROTOCOL_VERSION, INVERSE_PROTOCOL_VERSION, payload_type, payload_length)


def build_frame(payload_type: int, payload: bytes) -> bytes:
    """Header plus payload, ready to send."""
    return build_header(payload_type, len(payload)) + payload


def next_frame(
    buffer: bytes, max_payload_length: int = MAX_PAYLOAD_LENGTH
) -> tuple[V2gtpHeader, bytes] | None:
    """The first complete frame at the start of `buffer` as (header, payload), or None if more bytes are needed.

    Raises V2gtpError as soon as the header is complete and invalid, so a stream reader can resynchronise.
    """
    if len(buffer) < HEADER_LENGTH:
        return None
    header = parse_header(buffer, max_payload_length)
    if len(buffer) < header.frame_length:
        return None
    return header, bytes(buffer[HEADER_LENGTH:header.frame_length])


def parse_frame(data: bytes, max_payload_length: int = MAX_PAYLOAD_LENGTH) -> tuple[V2gtpHeader, bytes]:
    """Parse `data` that must hold exactly one frame (a UDP datagram, for example)."""
    header = parse_header(data, max_payload_length)
    if len(data) != header.frame_length:
        raise V2gtpError(f"V2GTP header announces {header.payload_length} payload bytes, "
                         f"datagram carries {len(data) - HEADER_LENGTH}")
    return header, bytes(data[HEADER_LENGTH:])


@dataclass(frozen=True)
class SdpRequest:
    """SECC discovery request sent by the EV: which security and transport it wants."""

    security: int = SDP_SECURITY_NONE
    transport: int = SDP_TRANSPORT_TCP

    @classmethod
    def from_payload(cls, payload: bytes) -> SdpRequest:
        if len(payload) != SDP_REQUEST_LENGTH:
            raise V2gtpError(f"SDP request payload must be {SDP_REQUEST_LENGTH} bytes, got {len(payload)}")
        return cls(payload[0], payload[1])

    def to_payload(self) -> bytes:
        return bytes((self.security, self.transport))

    def to_frame(self) -> bytes:
        return build_frame(PAYLOAD_SDP_REQUEST, self.to_payload())

    def to_json(self) -> dict[str, str]:
        return {"security": _name(_SECURITY_NAMES, self.security),
                "transport": _name(_TRANSPORT_NAMES, self.transport)}


@dataclass(frozen=True)
class SdpResponse:
    """SECC discovery response: where the SECC listens (16-byte IPv6 address, TCP port) and how."""

    address: bytes
    port: int
    security: int = SDP_SECURITY_NONE
    transport: int = SDP_TRANSPORT_TCP

    def __post_init__(self) -> None:
        if len(self.address) != 16:
            raise V2gtpError(f"SDP response address must be 16 bytes, got {len(self.address)}")
        if not 0 <= self.port <= 0xFFFF:
            raise V2gtpError(f"SDP response port {self.port} out of range")

    @classmethod
    def from_payload(cls, payload: bytes) -> SdpResponse:
        if len(payload) != SDP_RESPONSE_LENGTH:
            raise V2gtpError(f"SDP response payload must be {SDP_RESPONSE_LENGTH} bytes, got {len(payload)}")
        port, security, transport = struct.unpack_from(">HBB", payload, 16)
        return cls(bytes(payload[:16]), port, security, transport)

    def to_payload(self) -> bytes:
        return self.address + struct.pack(">HBB", self.port, self.security, self.transport)

    def to_frame(self) -> bytes:
        return build_frame(PAYLOAD_SDP_RESPONSE, self.to_payload())

    def to_json(self) -> dict[str, str | int]:
        return {
            "address": str(ipaddress.IPv6Address(self.address)),
            "port": self.port,
            "security": _name(_SECURITY_NAMES, self.security),
            "transport": _name(_TRANSPORT_NAMES, self.transport),
        }


def parse_sdp(datagram: bytes) -> SdpRequest | SdpResponse:
    """Parse one SDP datagram (V2GTP header included)."""
    header, payload = parse_frame(datagram)
    if header.payload_type == PAYLOAD_SDP_REQUEST:
        return SdpRequest.from_payload(payload)
    if header.payload_type == PAYLOAD_SDP_RESPONSE:
        return SdpResponse.from_payload(payload)
    raise V2gtpError(f"payload type {header.payload_type:#06x} is not SDP")


def _name(names: dict[int, str], value: int) -> str:
    return names.get(value, f"{value:#04x}")
