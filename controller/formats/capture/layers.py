"""Ethernet, IPv6/IPv4, UDP and TCP headers: just enough to find the V2G traffic in a capture.

Each parser returns None for frames it does not handle (another protocol, a later IP fragment) and raises
LayerError for a header that is cut short, so the dissector can report it and go on.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
_VLAN_ETHERTYPES = (0x8100, 0x88A8, 0x9100)
PROTOCOL_TCP = 6
PROTOCOL_UDP = 17
# hop-by-hop, routing, destination options, AH, mobility, HIP, shim6
_IPV6_EXTENSIONS = {0, 43, 60, 51, 135, 139, 140}
_IPV6_FRAGMENT = 44

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_ACK = 0x10


class LayerError(ValueError):
    """A protocol header shorter or stranger than its own length fields allow."""


@dataclass(frozen=True)
class EthernetFrame:
    destination: bytes
    source: bytes
    ethertype: int
    payload: bytes


@dataclass(frozen=True)
class IpPacket:
    source: str
    destination: str
    protocol: int
    payload: bytes


@dataclass(frozen=True)
class UdpDatagram:
    source_port: int
    destination_port: int
    payload: bytes


@dataclass(frozen=True)
class TcpSegment:
    source_port: int
    destination_port: int
    sequence: int
    acknowledgement: int
    flags: int
    payload: bytes

    @property
    def syn(self) -> bool:
        return bool(self.flags & TCP_SYN)

    @property
    def ack(self) -> bool:
        return bool(self.flags & TCP_ACK)


def parse_ethernet(frame: bytes) -> EthernetFrame:
    if len(frame) < 14:
        raise LayerError(f"Ethernet frame of {len(frame)} bytes is shorter than its header")
    ethertype = struct.unpack_from(">H", frame, 12)[0]
    offset = 14
    while ethertype in _VLAN_ETHERTYPES:
        if len(frame) < offset + 4:
            raise LayerError("VLAN tag truncated")
        ethertype = struct.unpack_from(">H", frame, offset + 2)[0]
        offset += 4
    return EthernetFrame(frame[:6], frame[6:12], ethertype, frame[offset:])


def parse_ip(ethertype: int, data: bytes) -> IpPacket | None:
    if ethertype == ETHERTYPE_IPV6:
        return _parse_ipv6(data)
    if ethertype == ETHERTYPE_IPV4:
        return _parse_ipv4(data)
    return None


def _parse_ipv6(data: bytes) -> IpPacket | None:
    if len(data) < 40:
        raise LayerError(f"IPv6 header truncated ({len(data)} bytes)")
    payload_length = struct.unpack_from(">H", data, 4)[0]
    next_header = data[6]
    end = 40 + payload_length if payload_length else len(data)  # 0: jumbogram, take the rest
    if end > len(data):
        raise LayerError(f"IPv6 payload length {payload_length} exceeds the {len(data) - 40} bytes captured")
    offset = 40
    while next_header in _IPV6_EXTENSIONS or next_header == _IPV6_FRAGMENT:
        if offset + 8 > end:
            raise LayerError("IPv6 extension header truncated")
        if next_header == _IPV6_FRAGMENT:
            fragment = struct.unpack_from(">H", data, offset + 2)[0]
            if fragment & 0xFFF9:  # a non-zero offset or more fragments: not reassembled here
                return None
            length = 8
        elif next_header == 51:  # AH counts its length in 4-byte units minus 2
            length = (data[offset + 1] + 2) * 4
        else:
            length = (data[offset + 1] + 1) * 8
        next_header = data[offset]
        offset += length
    if offset > end:
        raise LayerError("IPv6 extension headers run past the payload")
    source = str(ipaddress.IPv6Address(data[8:24]))
    destination = str(ipaddress.IPv6Address(data[24:40]))
    return IpPacket(source, destination, next_header, data[offset:end])


def _parse_ipv4(data: bytes) -> IpPacket | None:
    if len(data) < 20:
        raise LayerError(f"IPv4 header truncated ({len(data)} bytes)")
    header_length = (data[0] & 0x0F) * 4
    total_length, flags_fragment = struct.unpack_from(">H2xH", data, 2)
    if header_length < 20 or total_length < header_length or total_length > len(data):
        raise LayerError(f"IPv4 lengths inconsistent (header {header_length}, total {total_length})")
    if flags_fragment & 0x3FFF:  # fragment offset or more-fragments flag
        return None
    source = str(ipaddress.IPv4Address(data[12:16]))
    destination = str(ipaddress.IPv4Address(data[16:20]))
    return IpPacket(source, destination, data[9], data[header_length:total_length])


def parse_udp(data: bytes) -> UdpDatagram:
    if len(data) < 8:
        raise LayerError(f"UDP header truncated ({len(data)} bytes)")
    source, destination, length = struct.unpack_from(">HHH", data)
    if length < 8 or length > len(data):
        raise LayerError(f"UDP length {length} does not fit the {len(data)} bytes captured")
    return UdpDatagram(source, destination, data[8:length])


def parse_tcp(data: bytes) -> TcpSegment:
    if len(data) < 20:
        raise LayerError(f"TCP header truncated ({len(data)} bytes)")
    source, destination, sequence, acknowledgement, offset_byte, flags = struct.unpack_from(">HHIIBB", data)
    header_length = (offset_byte >> 4) * 4
    if header_length < 20 or header_length > len(data):
        raise LayerError(f"TCP header length {header_length} invalid for {len(data)} bytes")
    return TcpSegment(source, destination, sequence, acknowledgement, flags, data[header_length:])
