"""Record the car's V2G link as a pcap (`charger-hil run --pcap PATH`) that `charger-v2g pcap` and
Wireshark's V2G dissectors read.

The car's link records what it sent and got, when: the SDP exchange and every V2GTP request and answer.
They are written as the Ethernet / IPv6 / UDP or TCP frames they are on a PLC link (TCP with its
three-way handshake, sequence numbers and checksums), so any pcap tool can follow the stream. Addresses:
the SECC's as SDP gave it; the car's link-local address made from its MAC (EUI-64), or ::1 when the SECC
is on loopback. SLAC is not in the file (in the loopback mode its frames never leave the process).
"""
from __future__ import annotations

import ipaddress
import struct

from controller.v2g import v2gtp
from tools.capture.pcap import PcapFile

EV_MAC = bytes.fromhex("020000ec0003")
SECC_MAC = bytes.fromhex("020000ec0001")
EV_TCP_PORT = 50000
EV_SDP_PORT = 50001
ETHERTYPE_IPV6 = 0x86DD
TCP, UDP = 6, 17
SYN, ACK, PSH = 0x02, 0x10, 0x08


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _eui64_link_local(mac: bytes) -> bytes:
    eui = bytes((mac[0] ^ 0x02,)) + mac[1:3] + b"\xff\xfe" + mac[3:]
    return bytes.fromhex("fe80000000000000") + eui


class V2gPcapRecorder:
    def __init__(self, path: str):
        self._file = PcapFile(path)
        self._ev = self._secc = ipaddress.IPv6Address("::1").packed
        self._secc_port = 0
        self._seq = {"ev": 1000, "secc": 5000}

    # ---- what the car's link reports ----------------------------------------------------------------------
    def sdp(self, request: v2gtp.SdpRequest, response: v2gtp.SdpResponse, sent_t: float, answered_t: float) -> None:
        self._secc, self._secc_port = response.address, response.port
        if not ipaddress.IPv6Address(self._secc).is_loopback:
            self._ev = _eui64_link_local(EV_MAC)
        all_nodes = ipaddress.IPv6Address("ff02::1").packed
        self._udp(sent_t, self._ev, all_nodes, EV_SDP_PORT, v2gtp.SDP_PORT, request.to_frame(), EV_MAC)
        self._udp(answered_t, self._secc, self._ev, v2gtp.SDP_PORT, EV_SDP_PORT, response.to_frame(), SECC_MAC)

    def connected(self, t: float) -> None:
        self._tcp(t, "ev", SYN, b"", consume=1)
        self._tcp(t, "secc", SYN | ACK, b"", consume=1)
        self._tcp(t, "ev", ACK, b"")

    def exchange(self, request: bytes, sent_t: float, answer: bytes | None, answered_t: float | None) -> None:
        self._tcp(sent_t, "ev", PSH | ACK, v2gtp.build_frame(v2gtp.PAYLOAD_EXI, request))
        if answer is not None:
            self._tcp(answered_t, "secc", PSH | ACK, v2gtp.build_frame(v2gtp.PAYLOAD_EXI, answer))

    def close(self) -> None:
        self._file.close()

    # ---- frames ------------------------------------------------------------------------------------------
    def _tcp(self, t: float, side: str, flags: int, payload: bytes, consume: int = 0) -> None:
        other = "secc" if side == "ev" else "ev"
        seq, ack = self._seq[side], self._seq[other]
        ports = (EV_TCP_PORT, self._secc_port) if side == "ev" else (self._secc_port, EV_TCP_PORT)
        source, destination = (self._ev, self._secc) if side == "ev" else (self._secc, self._ev)
        header = struct.pack("!HHIIBBHHH", *ports, seq, ack if flags & ACK else 0, 5 << 4, flags, 65535, 0, 0)
        segment = header + payload
        checksum = _checksum(self._pseudo(source, destination, TCP, len(segment)) + segment)
        segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
        self._seq[side] = seq + len(payload) + consume
        self._ip(t, source, destination, TCP, segment, EV_MAC if side == "ev" else SECC_MAC)

    def _udp(self, t: float, source: bytes, destination: bytes, sport: int, dport: int, payload: bytes,
             mac: bytes) -> None:
        datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        checksum = _checksum(self._pseudo(source, destination, UDP, len(datagram)) + datagram) or 0xFFFF
        datagram = datagram[:6] + struct.pack("!H", checksum) + datagram[8:]
        self._ip(t, source, destination, UDP, datagram, mac)

    @staticmethod
    def _pseudo(source: bytes, destination: bytes, protocol: int, length: int) -> bytes:
        return source + destination + struct.pack("!I3xB", length, protocol)

    def _ip(self, t: float, source: bytes, destination: bytes, protocol: int, payload: bytes, mac: bytes) -> None:
        ip = struct.pack("!IHBB", 6 << 28, len(payload), protocol, 64) + source + destination + payload
        other_mac = SECC_MAC if mac == EV_MAC else EV_MAC
        if destination[0] == 0xFF:
            other_mac = b"\x33\x33" + destination[-4:]  # IPv6 multicast MAC
        frame = other_mac + mac + struct.pack("!H", ETHERTYPE_IPV6) + ip
        self._file.write(int(t * 1e9), frame)
