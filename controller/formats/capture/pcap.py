"""Read pcap and pcapng captures; write pcap (linktype 1, Ethernet).

Pure Python, no libpcap. The reader accepts both byte orders, microsecond and nanosecond pcap, and pcapng
with several sections and interfaces (SHB, IDB with if_tsresol / if_tsoffset, EPB, SPB and the obsolete
packet block). Any malformed structure raises CaptureError with the byte offset and the reason; a file that
ends inside its last record (a capture stopped while writing) raises CaptureCutShort after the packets before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Iterator

LINKTYPE_ETHERNET = 1

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_PCAPNG_IDB = 0x00000001
_PCAPNG_OBSOLETE_PACKET = 0x00000002
_PCAPNG_SPB = 0x00000003
_PCAPNG_EPB = 0x00000006
_OPT_END = 0
_OPT_IF_TSRESOL = 9
_OPT_IF_TSOFFSET = 14

# Refuse absurd sizes instead of allocating them: no real frame on our links comes near this.
MAX_PACKET_BYTES = 256 * 1024
MAX_BLOCK_BYTES = 16 * 1024 * 1024


class CaptureError(ValueError):
    """The file is not a readable pcap/pcapng capture; the message says where and why."""


class CaptureCutShort(CaptureError):
    """The file ends inside a record: what came before is good (tools may keep it and say so)."""


@dataclass(frozen=True)
class Packet:
    """One captured frame. `timestamp_ns` is nanoseconds since the Unix epoch."""

    timestamp_ns: int
    linktype: int
    data: bytes
    original_length: int
    interface: int = 0

    @property
    def timestamp(self) -> float:
        """Float seconds since the epoch, summed the way pcap tools do (whole seconds + fraction)."""
        seconds, nanoseconds = divmod(self.timestamp_ns, 1_000_000_000)
        return seconds + nanoseconds / 1e9


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    units_per_second: int = 1_000_000
    offset_seconds: int = 0

    def to_ns(self, ticks: int) -> int:
        return self.offset_seconds * 1_000_000_000 + ticks * 1_000_000_000 // self.units_per_second


def read_packets(source: str | Path | bytes) -> Iterator[Packet]:
    """Yield the packets of a pcap or pcapng capture given as a path or as the file's bytes."""
    data = source if isinstance(source, bytes) else _read_file(Path(source))
    if len(data) < 4:
        raise CaptureError("file too short to be a capture")
    magic_le = struct.unpack_from("<I", data)[0]
    magic_be = struct.unpack_from(">I", data)[0]
    if magic_le == PCAPNG_SHB:
        return _read_pcapng(data)
    for order, magic in (("<", magic_le), (">", magic_be)):
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            return _read_pcap(data, order, magic == PCAP_MAGIC_NS)
    raise CaptureError(f"not a pcap or pcapng file (magic {data[:4].hex()})")


def read_capture(source: str | Path | bytes) -> list[Packet]:
    """All packets of a capture as a list (a malformed file fails before anything is returned)."""
    return list(read_packets(source))


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_pcap(data: bytes, order: str, nanosecond: bool) -> Iterator[Packet]:
    if len(data) < 24:
        raise CaptureError("pcap global header truncated")
    _magic, _major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack_from(order + "IHHiIII", data)
    linktype &= 0xFFFF  # upper bits carry FCS flags
    unit = 1 if nanosecond else 1000
    offset = 24
    while offset < len(data):
        if offset + 16 > len(data):
            raise CaptureCutShort(f"pcap record header truncated at offset {offset}")
        seconds, fraction, captured, original = struct.unpack_from(order + "IIII", data, offset)
        if captured > MAX_PACKET_BYTES:
            raise CaptureError(f"pcap record at offset {offset} claims {captured} bytes")
        start = offset + 16
        if start + captured > len(data):
            raise CaptureCutShort(f"pcap record at offset {offset} truncated")
        yield Packet(seconds * 1_000_000_000 + fraction * unit, linktype, data[start:start + captured], original)
        offset = start + captured


def _read_pcapng(data: bytes) -> Iterator[Packet]:
    order = "<"
    interfaces: list[_Interface] = []
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise CaptureCutShort(f"pcapng block header truncated at offset {offset}")
        if struct.unpack_from("<I", data, offset)[0] == PCAPNG_SHB:
            order = _section_byte_order(data, offset)
            interfaces = []
        block_type, length = struct.unpack_from(order + "II", data, offset)
        if 12 <= length <= MAX_BLOCK_BYTES and length % 4 == 0 and offset + length > len(data):
            raise CaptureCutShort(f"pcapng block at offset {offset} truncated ({length} bytes announced)")
        if length < 12 or length % 4 or length > MAX_BLOCK_BYTES or offset + length > len(data):
            raise CaptureError(f"pcapng block at offset {offset} has bad length {length}")
        if struct.unpack_from(order + "I", data, offset + length - 4)[0] != length:
            raise CaptureError(f"pcapng block at offset {offset}: trailing length does not match")
        body = data[offset + 8:offset + length - 4]
        if block_type == _PCAPNG_IDB:
            interfaces.append(_parse_interface(body, order, offset))
        elif block_type in (_PCAPNG_EPB, _PCAPNG_SPB, _PCAPNG_OBSOLETE_PACKET):
            yield _parse_packet_block(block_type, body, order, interfaces, offset)
        offset += length


def _section_byte_order(data: bytes, offset: int) -> str:
    if offset + 12 > len(data):
        raise CaptureError(f"pcapng section header truncated at offset {offset}")
    for order in ("<", ">"):
        if struct.unpack_from(order + "I", data, offset + 8)[0] == PCAPNG_BYTE_ORDER_MAGIC:
            return order
    raise CaptureError(f"pcapng section header at offset {offset} has no byte-order magic")


def _parse_interface(body: bytes, order: str, offset: int) -> _Interface:
    if len(body) < 8:
        raise CaptureError(f"pcapng interface block at offset {offset} truncated")
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body)
    interface = _Interface(linktype, snaplen)
    for code, value in _options(body[8:], order, offset):
        if code == _OPT_IF_TSRESOL and len(value) >= 1:
            exponent = value[0] & 0x7F
            if exponent > 30 if value[0] & 0x80 else exponent > 9:
                raise CaptureError(f"pcapng interface at offset {offset}: unsupported if_tsresol {value[0]:#x}")
            interface.units_per_second = 2**exponent if value[0] & 0x80 else 10**exponent
        elif code == _OPT_IF_TSOFFSET and len(value) >= 8:
            interface.offset_seconds = struct.unpack_from(order + "q", value)[0]
    return interface


def _options(raw: bytes, order: str, offset: int) -> Iterator[tuple[int, bytes]]:
    position = 0
    while position + 4 <= len(raw):
        code, length = struct.unpack_from(order + "HH", raw, position)
        if code == _OPT_END:
            return
        value = raw[position + 4:position + 4 + length]
        if len(value) != length:
            raise CaptureError(f"pcapng block at offset {offset}: option {code} truncated")
        yield code, value
        position += 4 + (length + 3) // 4 * 4


def _parse_packet_block(
    block_type: int, body: bytes, order: str, interfaces: list[_Interface], offset: int
) -> Packet:
    if block_type == _PCAPNG_SPB:
        if len(body) < 4 or not interfaces:
            raise CaptureError(f"pcapng simple packet block at offset {offset} without interface or length")
        original = struct.unpack_from(order + "I", body)[0]
        captured = min(original, len(body) - 4, interfaces[0].snaplen or len(body))
        # A simple packet block has no timestamp of its own.
        return Packet(0, interfaces[0].linktype, body[4:4 + captured], original, 0)
    if len(body) < 20:
        raise CaptureError(f"pcapng packet block at offset {offset} truncated")
    if block_type == _PCAPNG_EPB:
        index, high, low, captured, original = struct.unpack_from(order + "IIIII", body)
    else:
        index, _drops, high, low, captured, original = struct.unpack_from(order + "HHIIII", body)
    if index >= len(interfaces):
        raise CaptureError(f"pcapng packet block at offset {offset} names unknown interface {index}")
    if captured > len(body) - 20:
        raise CaptureError(f"pcapng packet block at offset {offset} claims {captured} bytes, holds fewer")
    interface = interfaces[index]
    return Packet(interface.to_ns((high << 32) | low), interface.linktype, body[20:20 + captured], original, index)


class PcapWriter:
    """Writes a classic little-endian pcap stream (microsecond or nanosecond timestamps)."""

    def __init__(
        self, stream: BinaryIO, linktype: int = LINKTYPE_ETHERNET, snaplen: int = 65535, nanosecond: bool = False
    ) -> None:
        self._stream = stream
        self._nanosecond = nanosecond
        magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
        stream.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, timestamp_ns: int, data: bytes) -> None:
        """Append one frame captured at `timestamp_ns` (nanoseconds since the epoch)."""
        if len(data) > MAX_PACKET_BYTES:
            raise ValueError(f"frame of {len(data)} bytes exceeds {MAX_PACKET_BYTES}")
        seconds, remainder = divmod(timestamp_ns, 1_000_000_000)
        fraction = remainder if self._nanosecond else remainder // 1000
        self._stream.write(struct.pack("<IIII", seconds, fraction, len(data), len(data)) + data)

    def flush(self) -> None:
        self._stream.flush()


class PcapFile(PcapWriter):
    """A PcapWriter that owns its file: `with PcapFile(path) as capture: capture.write(ts_ns, frame)`."""

    def __init__(self, path: str | Path, linktype: int = LINKTYPE_ETHERNET, nanosecond: bool = False) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        super().__init__(self._file, linktype, nanosecond=nanosecond)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> PcapFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
