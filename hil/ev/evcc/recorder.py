"""Record the rig's V2G links as one pcap (`charger-hil run --pcap PATH`) that `charger-v2g pcap` and
Wireshark read, for every connector at once.

- SLAC: `slac_frame` writes each raw HomePlug AV frame (ethertype 0x88E1) a connector's simulated powerline
  passed (`SimulatedPowerline(on_frame=...)`), as it crossed.
- SDP and V2GTP: each connector's car link records through its own `stream(connector_id)`: the SDP exchange
  and every request and answer (over TLS: the TLS records as they crossed, which the SECC's key log decrypts), written as the Ethernet / IPv6 / UDP or TCP frames they are on a PLC link
  (TCP with its three-way handshake, sequence numbers and checksums), so any pcap tool follows the stream.

Who is who, per connector, so that Wireshark tells the connectors apart: the car's and the SECC's MACs are
the ones seen in that connector's SLAC frames (made-up 02:00:00:ec:<id>:03 / :01 until SLAC shows them);
the SECC's address and port are the ones SDP gave; the car's address is the link-local one made from its
MAC (EUI-64), or ::1 when the SECC is on loopback; the car's ports are 50000 + 10 * id (TCP) and one more
(SDP). Every record carries a time.time() timestamp.

The car's link reports an exchange once it is over (an SDP request after its answer, a request that got no
answer after the timeout), so records come in a little out of time order, and several connectors interleave.
Records are therefore held back for HOLD_S and written in time order; `close()` writes the rest.
"""
from __future__ import annotations

import heapq
import ipaddress
import itertools
import struct
import time
from typing import Callable

from controller.formats.v2g import slac_messages, v2gtp
from controller.formats.capture.pcap import PcapFile

HOLD_S = 60.0  # longer than any request timeout: a late-reported record still lands in time order
DIRECTIONS = ("to_ev", "to_evse")
ETHERTYPE_IPV6 = 0x86DD
TCP, UDP = 6, 17
SYN, ACK, PSH = 0x02, 0x10, 0x08
EV_TCP_PORT_BASE = 50000
_NEW_CONNECTION_SEQUENCE_STEP = 100_000  # a reconnect starts well past the last connection's numbers

Write = Callable[[float, bytes], None]


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


def _pseudo_header(source: bytes, destination: bytes, protocol: int, length: int) -> bytes:
    return source + destination + struct.pack("!I3xB", length, protocol)


class V2gPcapRecorder:
    """One pcap file for all connectors: `stream(id)` for each car link, `slac_frame` for each powerline."""

    def __init__(self, path: str):
        self._file: PcapFile | None = PcapFile(path)
        self._streams: dict[int, V2gPcapStream] = {}
        self._held: list[tuple[int, int, bytes]] = []  # (timestamp ns, arrival order, frame), a heap
        self._order = itertools.count()
        self._newest_ns = 0

    def stream(self, connector_id: int) -> V2gPcapStream:
        """The recorder of connector `connector_id`'s car link (the same object on every call)."""
        if not isinstance(connector_id, int) or not 0 <= connector_id <= 255:
            raise ValueError(f"connector id must be an integer 0..255, got {connector_id!r}")
        if connector_id not in self._streams:
            self._streams[connector_id] = V2gPcapStream(connector_id, self._write)
        return self._streams[connector_id]

    def slac_frame(self, connector_id: int, frame: bytes, direction: str, t: float | None = None) -> None:
        """A raw Ethernet frame that crossed connector `connector_id`'s powerline ("to_ev" or "to_evse")."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.stream(connector_id).saw_slac(bytes(frame), direction)
        self._write(time.time() if t is None else t, bytes(frame))

    def close(self) -> None:
        """Write what is held back and close the file; later records are refused with ValueError."""
        if self._file is None:
            return
        while self._held:
            self._file.write(*self._pop())
        self._file.close()
        self._file = None

    def _write(self, t: float, frame: bytes) -> None:
        if self._file is None:
            raise ValueError("the pcap recorder is closed")
        timestamp_ns = int(t * 1e9)
        self._newest_ns = max(self._newest_ns, timestamp_ns)
        heapq.heappush(self._held, (timestamp_ns, next(self._order), frame))
        while self._held and self._held[0][0] < self._newest_ns - HOLD_S * 1e9:
            self._file.write(*self._pop())

    def _pop(self) -> tuple[int, bytes]:
        timestamp_ns, _, frame = heapq.heappop(self._held)
        return timestamp_ns, frame


class V2gPcapStream:
    """What one connector's car link reports (`sdp`, `connected`, `exchange`), as that connector's frames."""

    def __init__(self, connector_id: int, write: Write):
        self.connector_id = connector_id
        self.ev_mac = bytes((0x02, 0x00, 0x00, 0xEC, connector_id, 0x03))
        self.secc_mac = bytes((0x02, 0x00, 0x00, 0xEC, connector_id, 0x01))
        self.ev_tcp_port = EV_TCP_PORT_BASE + 10 * connector_id
        self.ev_sdp_port = self.ev_tcp_port + 1
        self._write = write
        self._ev = self._secc = ipaddress.IPv6Address("::1").packed
        self._secc_port = 0
        self._seq = {"ev": 1000, "secc": 5000}
        self._connections = 0

    def saw_slac(self, frame: bytes, direction: str) -> None:
        """Take the car's and the SECC's MACs from the SLAC messages they sent across the powerline."""
        try:
            parsed = slac_messages.parse_frame(frame)
        except slac_messages.SlacError:
            return
        if direction == "to_evse" and parsed.from_ev is True:
            self.ev_mac = parsed.source
        elif direction == "to_ev" and parsed.from_ev is False:
            self.secc_mac = parsed.source

    # ---- what the car's link reports ----------------------------------------------------------------------
    def sdp(self, request: v2gtp.SdpRequest, response: v2gtp.SdpResponse, sent_t: float, answered_t: float) -> None:
        self._secc, self._secc_port = response.address, response.port
        loopback = ipaddress.IPv6Address(self._secc).is_loopback
        self._ev = ipaddress.IPv6Address("::1").packed if loopback else _eui64_link_local(self.ev_mac)
        all_nodes = ipaddress.IPv6Address("ff02::1").packed
        self._udp(sent_t, "ev", all_nodes, self.ev_sdp_port, v2gtp.SDP_PORT, request.to_frame())
        self._udp(answered_t, "secc", self._ev, v2gtp.SDP_PORT, self.ev_sdp_port, response.to_frame())

    def connected(self, t: float) -> None:
        if self._connections:
            self._seq = {side: seq + _NEW_CONNECTION_SEQUENCE_STEP for side, seq in self._seq.items()}
        self._connections += 1
        self._tcp(t, "ev", SYN, b"", consume=1)
        self._tcp(t, "secc", SYN | ACK, b"", consume=1)
        self._tcp(t, "ev", ACK, b"")

    def wire(self, t: float, side: str, data: bytes) -> None:
        """Bytes as they crossed (a TLS connection's records), from `side` ("ev" or "secc")."""
        self._tcp(t, side, PSH | ACK, data)

    def exchange(self, request: bytes, sent_t: float, answer: bytes | None, answered_t: float | None) -> None:
        self._tcp(sent_t, "ev", PSH | ACK, v2gtp.build_frame(v2gtp.PAYLOAD_EXI, request))
        if answer is not None:
            self._tcp(answered_t, "secc", PSH | ACK, v2gtp.build_frame(v2gtp.PAYLOAD_EXI, answer))

    # ---- frames ------------------------------------------------------------------------------------------
    def _tcp(self, t: float, side: str, flags: int, payload: bytes, consume: int = 0) -> None:
        other = "secc" if side == "ev" else "ev"
        seq, ack = self._seq[side], self._seq[other]
        ports = (self.ev_tcp_port, self._secc_port) if side == "ev" else (self._secc_port, self.ev_tcp_port)
        source, destination = (self._ev, self._secc) if side == "ev" else (self._secc, self._ev)
        header = struct.pack("!HHIIBBHHH", *ports, seq, ack if flags & ACK else 0, 5 << 4, flags, 65535, 0, 0)
        segment = header + payload
        checksum = _checksum(_pseudo_header(source, destination, TCP, len(segment)) + segment)
        segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
        self._seq[side] = seq + len(payload) + consume
        self._ip(t, side, destination, TCP, segment)

    def _udp(self, t: float, side: str, destination: bytes, sport: int, dport: int, payload: bytes) -> None:
        source = self._ev if side == "ev" else self._secc
        datagram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        checksum = _checksum(_pseudo_header(source, destination, UDP, len(datagram)) + datagram) or 0xFFFF
        datagram = datagram[:6] + struct.pack("!H", checksum) + datagram[8:]
        self._ip(t, side, destination, UDP, datagram)

    def _ip(self, t: float, side: str, destination: bytes, protocol: int, payload: bytes) -> None:
        source = self._ev if side == "ev" else self._secc
        mac, other_mac = (self.ev_mac, self.secc_mac) if side == "ev" else (self.secc_mac, self.ev_mac)
        if destination[0] == 0xFF:
            other_mac = b"\x33\x33" + destination[-4:]  # IPv6 multicast MAC
        ip = struct.pack("!IHBB", 6 << 28, len(payload), protocol, 64) + source + destination + payload
        self._write(t, other_mac + mac + struct.pack("!H", ETHERTYPE_IPV6) + ip)
