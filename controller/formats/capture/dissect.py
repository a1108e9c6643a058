"""Turn captured Ethernet frames into the V2G conversation: SLAC, SDP and every V2G message decoded.

Every HomePlug AV frame (ethertype 0x88E1) is one message named by its MMTYPE; one too broken to parse is
still one message, with the reason in `error`.

V2G messages are cut from TCP streams reassembled by sequence number (a V2GTP frame may span segments, one
segment may hold several frames); a segment that only repeats bytes already seen (a retransmission, or a
frame the capture holds twice) is dropped and counted in `skipped`. Each TCP connection gets a number in the
order it was first seen, like Wireshark's tcp.stream, so the connections of a multi-connector capture stay
apart. Direction comes from the SECC's listening port: the server side of the TCP handshake, or the port an
SDP response announced; a connection caught without either is settled by its first decoded message (a
request comes from the car). Each connection starts with the AppProtocol handshake; its response's SchemaID
picks, among the namespaces the request offered, the schema for the rest of that connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.formats.v2g import slac_messages, v2gtp
from controller.formats.capture import layers
from controller.formats.capture.pcap import LINKTYPE_ETHERNET, CaptureCutShort, Packet, read_packets
from controller.formats.capture.tcp_stream import TcpStream
from controller.formats.capture.v2g_payload import V2gDecoder

_PROTOCOL_BY_SCHEMA = {"slac": "SLAC", "sdp": "SDP"}

Endpoint = tuple[str, int]


@dataclass
class DissectedMessage:
    """One message found in a capture. `t` is seconds since the capture's first packet."""

    t: float
    timestamp: float  # seconds since the Unix epoch
    from_ev: bool | None  # None: neither side of the cable (a host talking to its own modem)
    schema: str  # "slac", "sdp", "appproto", "din", "iso2"
    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""  # the EXI (or SDP) payload without its V2GTP header
    error: str | None = None
    tcp_stream: int | None = None  # which TCP connection (0, 1, ... in capture order) carried it
    warnings: list[str] = field(default_factory=list)  # values decoded although the schema forbids them

    @property
    def protocol(self) -> str:
        return _PROTOCOL_BY_SCHEMA.get(self.schema, "V2G")

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"t": self.t, "from_ev": self.from_ev, "schema": self.schema,
                                  "type": self.type, "fields": self.fields}
        if self.protocol == "V2G":
            result["hex"] = self.payload.hex()
        if self.error is not None:
            result["error"] = self.error
        if self.warnings:
            result["warnings"] = self.warnings
        if self.tcp_stream is not None:
            result["tcp_stream"] = self.tcp_stream
        return result


@dataclass
class _Direction:
    """One sending side of a TCP connection: its stream and the bytes not yet cut into V2GTP frames."""

    sender: Endpoint
    stream: TcpStream = field(default_factory=TcpStream)
    buffer: bytearray = field(default_factory=bytearray)
    buffer_offset: int = 0
    in_sync: bool = True


@dataclass
class _Connection:
    endpoints: frozenset[Endpoint]
    server: Endpoint  # the SECC's listening side; the other side is the car
    number: int  # tcp_stream of its messages
    settled: bool  # False: `server` is a guess that the first decoded message may correct
    decoder: V2gDecoder = field(default_factory=V2gDecoder)
    directions: dict[Endpoint, _Direction] = field(default_factory=dict)
    first_data_seen: bool = False
    tls: Any = None  # a Tls12Decryptor once the connection's first bytes are a TLS handshake (ISO-2 over TLS)
    tls_reported: bool = False

    def direction(self, sender: Endpoint) -> _Direction:
        if sender not in self.directions:
            self.directions[sender] = _Direction(sender)
        return self.directions[sender]

    def from_ev(self, direction: _Direction) -> bool:
        return direction.sender != self.server


class CaptureDissector:
    """Feed packets in capture order; each call returns the messages that packet completed."""

    def __init__(self, tls_keys: dict[bytes, bytes] | None = None) -> None:
        """`tls_keys`: client random -> master secret (tls12.read_key_log) to decrypt TLS connections."""
        self.tls_keys = tls_keys or {}
        self._first_timestamp: float | None = None
        self._connections: dict[frozenset[Endpoint], _Connection] = {}
        self._connection_count = 0
        self._secc_ports: set[int] = set()
        self.skipped: Counter[str] = Counter()  # frames not dissected, by reason
        self.packets = 0

    def feed(self, packet: Packet) -> list[DissectedMessage]:
        self.packets += 1
        if self._first_timestamp is None:
            self._first_timestamp = packet.timestamp
        if packet.linktype != LINKTYPE_ETHERNET:
            self.skipped[f"linktype {packet.linktype}"] += 1
            return []
        try:
            return self._ethernet(packet)
        except layers.LayerError as exc:
            self.skipped[str(exc)] += 1
            return []

    def _message(self, packet: Packet, **values: Any) -> DissectedMessage:
        assert self._first_timestamp is not None
        # Float difference rounded to microseconds: the figures the expected files and pcap tools show.
        relative = round(packet.timestamp - self._first_timestamp, 6)
        return DissectedMessage(t=relative, timestamp=packet.timestamp, **values)

    def _ethernet(self, packet: Packet) -> list[DissectedMessage]:
        frame = layers.parse_ethernet(packet.data)
        if frame.ethertype == slac_messages.ETHERTYPE_HOMEPLUG:
            return [self._homeplug(packet, frame)]
        ip = layers.parse_ip(frame.ethertype, frame.payload)
        if ip is None:
            return []
        if ip.protocol == layers.PROTOCOL_UDP:
            return self._udp(packet, layers.parse_udp(ip.payload))
        if ip.protocol == layers.PROTOCOL_TCP:
            return self._tcp(packet, ip, layers.parse_tcp(ip.payload))
        return []

    def _homeplug(self, packet: Packet, frame: layers.EthernetFrame) -> DissectedMessage:
        try:
            mme = slac_messages.parse_payload(frame.destination, frame.source, frame.payload)
        except slac_messages.SlacError as exc:
            name, from_ev = _homeplug_header(frame.payload)
            return self._message(packet, from_ev=from_ev, schema="slac", type=name,
                                 fields={"destination": slac_messages.format_mac(frame.destination),
                                         "source": slac_messages.format_mac(frame.source)},
                                 payload=frame.payload, error=f"malformed HomePlug frame: {exc}")
        return self._message(packet, from_ev=mme.from_ev, schema="slac", type=mme.name, fields=mme.to_json())

    def _udp(self, packet: Packet, datagram: layers.UdpDatagram) -> list[DissectedMessage]:
        if v2gtp.SDP_PORT not in (datagram.source_port, datagram.destination_port):
            return []
        try:
            sdp = v2gtp.parse_sdp(datagram.payload)
        except v2gtp.V2gtpError as exc:
            return [self._message(packet, from_ev=datagram.destination_port == v2gtp.SDP_PORT, schema="sdp",
                                  type="V2gtpError", payload=datagram.payload, error=str(exc))]
        if isinstance(sdp, v2gtp.SdpResponse):
            self._secc_ports.add(sdp.port)
            return [self._message(packet, from_ev=False, schema="sdp", type="SdpResponse",
                                  fields=sdp.to_json(), payload=sdp.to_payload())]
        return [self._message(packet, from_ev=True, schema="sdp", type="SdpRequest", fields=sdp.to_json(),
                              payload=sdp.to_payload())]

    def _tcp(self, packet: Packet, ip: layers.IpPacket, segment: layers.TcpSegment) -> list[DissectedMessage]:
        sender = (ip.source, segment.source_port)
        receiver = (ip.destination, segment.destination_port)
        key = frozenset((sender, receiver))
        if segment.syn:
            server = receiver if not segment.ack else sender
            self._secc_ports.add(server[1])  # the listening port: direction of connections caught mid-way
            if not segment.ack:  # a new connection (or the SYN of a reused port pair): a fresh handshake
                self._connections[key] = self._new_connection(key, server, settled=True)
        connection = self._connections.get(key)
        if connection is None:
            connection = self._connections[key] = self._new_connection(key, *self._guess_server(sender, receiver))
        direction = connection.direction(sender)
        if segment.syn:
            direction.stream.syn(segment.sequence)
        update = direction.stream.add(segment.sequence, segment.payload)
        if update.duplicate is not None:
            self.skipped["TCP segment repeating bytes already seen (retransmission or captured twice)"] += 1
            return []
        if update.skipped:
            direction.buffer.clear()
            direction.buffer_offset = update.offset
            direction.in_sync = False
        direction.buffer += self._tls(connection, direction, update.data, update.skipped)
        return self._cut_frames(packet, connection, direction)

    def _tls(self, connection: _Connection, direction: _Direction, data: bytes, gap: bool) -> bytes:
        """A TLS connection's bytes decrypted (with the key log), for V2GTP; other connections' unchanged."""
        if data and not connection.first_data_seen:
            connection.first_data_seen = True
            from controller.formats.capture.tls12 import Tls12Decryptor, looks_like_tls  # needs `cryptography`
            if looks_like_tls(data):
                connection.tls = Tls12Decryptor(self.tls_keys)
        if connection.tls is None:
            return data
        if gap and not connection.tls.problem:
            connection.tls.problem = "bytes missing from the capture"
        plain = connection.tls.feed(connection.from_ev(direction), data) if not connection.tls.problem else b""
        if connection.tls.problem and not connection.tls_reported:
            connection.tls_reported = True
            self.skipped[f"TLS connection (tcp {connection.number}) not decrypted: {connection.tls.problem}"] += 1
        return plain

    def _new_connection(self, endpoints: frozenset[Endpoint], server: Endpoint, settled: bool) -> _Connection:
        self._connection_count += 1
        return _Connection(endpoints=endpoints, server=server, number=self._connection_count - 1, settled=settled)

    def _guess_server(self, sender: Endpoint, receiver: Endpoint) -> tuple[Endpoint, bool]:
        """Caught after its SYN: the side on a known SECC port; else the lower port, a guess that the
        connection's first decoded message settles."""
        if receiver[1] in self._secc_ports:
            return receiver, True
        if sender[1] in self._secc_ports:
            return sender, True
        return (receiver if sender[1] > receiver[1] else sender), False

    def _settle(self, connection: _Connection, direction: _Direction, type_name: str) -> None:
        """A guessed connection: a request comes from the car, a response from the SECC."""
        if not type_name.endswith(("Req", "Res")):
            return
        if type_name.endswith("Res"):
            connection.server = direction.sender
        else:
            (connection.server,) = connection.endpoints - {direction.sender}
        self._secc_ports.add(connection.server[1])
        connection.settled = True

    def _cut_frames(
        self, packet: Packet, connection: _Connection, direction: _Direction
    ) -> list[DissectedMessage]:
        found: list[DissectedMessage] = []
        while True:
            if not direction.in_sync and not self._resync(direction):
                return found
            try:
                frame = v2gtp.next_frame(direction.buffer)
            except v2gtp.V2gtpError as exc:
                found.append(self._message(
                    packet, from_ev=connection.from_ev(direction), schema=connection.decoder.schema_name,
                    type="V2gtpError", payload=bytes(direction.buffer[:v2gtp.HEADER_LENGTH]), error=str(exc),
                    tcp_stream=connection.number))
                self._consume(direction, 1)
                direction.in_sync = False
                continue
            if frame is None:
                return found
            header, payload = frame
            self._consume(direction, header.frame_length)
            decoded = connection.decoder.decode(header.payload_type, payload)
            if not connection.settled and "error" not in decoded:
                self._settle(connection, direction, decoded["type"])
            found.append(self._message(packet, from_ev=connection.from_ev(direction), payload=payload,
                                       tcp_stream=connection.number, **decoded))

    @staticmethod
    def _consume(direction: _Direction, count: int) -> None:
        del direction.buffer[:count]
        direction.buffer_offset += count

    def _resync(self, direction: _Direction) -> bool:
        """Drop bytes up to the next plausible V2GTP header; False if none is in the buffer yet."""
        position = direction.buffer.find(v2gtp.HEADER_MAGIC)
        while position >= 0:
            candidate = direction.buffer[position:position + v2gtp.HEADER_LENGTH]
            if len(candidate) < v2gtp.HEADER_LENGTH:
                break
            try:
                v2gtp.parse_header(candidate)
            except v2gtp.V2gtpError:
                position = direction.buffer.find(v2gtp.HEADER_MAGIC, position + 1)
                continue
            self._consume(direction, position)
            direction.in_sync = True
            return True
        keep = len(direction.buffer) - position if position >= 0 else 1  # a header may be split across segments
        self._consume(direction, max(0, len(direction.buffer) - keep))
        return False


def _homeplug_header(payload: bytes) -> tuple[str, bool | None]:
    """Name and direction of a broken HomePlug frame, from its MMTYPE when the frame got that far."""
    if len(payload) < 3:
        return "HomePlugError", None
    mmtype = int.from_bytes(payload[1:3], "little")
    known = slac_messages.MESSAGE_CLASSES.get(mmtype)
    return slac_messages.mmtype_name(mmtype), None if known is None else known.FROM_EV


def dissect(packets: Iterable[Packet], dissector: CaptureDissector | None = None) -> Iterator[DissectedMessage]:
    """Messages in capture order. A file cut short inside its last record keeps what came before (the
    reason is counted in the dissector's `skipped`); one cut short before any packet is a CaptureError."""
    dissector = dissector or CaptureDissector()
    try:
        for packet in packets:
            yield from dissector.feed(packet)
    except CaptureCutShort as exc:
        if dissector.packets == 0:
            raise
        dissector.skipped[f"the capture ends inside a record ({exc})"] += 1


def dissect_file(path: str | Path, dissector: CaptureDissector | None = None) -> list[DissectedMessage]:
    """All messages of a capture file; CaptureError if the file is not a readable capture."""
    return list(dissect(read_packets(path), dissector))
