import io
import struct
from pathlib import Path

import pytest

from controller.formats.capture.pcap import CaptureError, Packet, PcapFile, PcapWriter, read_capture
from controller.formats.capture.tcp_stream import TcpStream

pytestmark = pytest.mark.timeout(30)

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
T0_NS = 1_700_000_000_123_456_789


# --- pcapng built by hand, block by block -------------------------------------------------------------


def _block(order: str, block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    length = len(body) + 12
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def _section(order: str) -> bytes:
    return _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def _interface(order: str, linktype: int = 1, options: bytes = b"") -> bytes:
    if options:
        options += struct.pack(order + "HH", 0, 0)
    return _block(order, 1, struct.pack(order + "HHI", linktype, 0, 65535) + options)


def _enhanced(order: str, interface: int, ticks: int, data: bytes) -> bytes:
    header = struct.pack(order + "IIIII", interface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data))
    return _block(order, 6, header + data)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_both_byte_orders_default_microseconds(order):
    data = _section(order) + _interface(order) + _enhanced(order, 0, 1_700_000_000_000_001, b"frame-1")
    assert read_capture(data) == [Packet(1_700_000_000_000_001_000, 1, b"frame-1", 7, 0)]


def test_pcapng_timestamp_resolution_offset_and_several_interfaces():
    order = "<"
    nanosecond = _interface(order, options=_option(order, 9, b"\x09"))
    binary = _interface(order, linktype=113, options=_option(order, 9, b"\x8a") + _option(
        order, 14, struct.pack("<q", 100)))
    data = (_section(order) + nanosecond + binary + _enhanced(order, 0, T0_NS, b"a")
            + _enhanced(order, 1, 3 * 1024 + 512, b"b"))
    first, second = read_capture(data)
    assert first.timestamp_ns == T0_NS and first.linktype == 1
    assert second.timestamp_ns == 100 * 10**9 + 3_500_000_000 and second.linktype == 113
    assert second.interface == 1


def test_pcapng_simple_packet_block_and_a_second_section_in_the_other_order():
    simple = _block("<", 3, struct.pack("<I", 3) + b"xyz")
    data = (_section("<") + _interface("<") + simple
            + _section(">") + _interface(">") + _enhanced(">", 0, 5, b"next"))
    packets = read_capture(data)
    assert [packet.data for packet in packets] == [b"xyz", b"next"]
    assert packets[1].timestamp_ns == 5000


def test_pcapng_skips_unknown_blocks():
    data = _section("<") + _interface("<") + _block("<", 0x0BAD, b"anything") + _enhanced("<", 0, 1, b"ok")
    assert [packet.data for packet in read_capture(data)] == [b"ok"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "too short"),
        (b"GIF89a-not-a-capture", "not a pcap or pcapng file"),
        (_section("<")[:-4], "truncated"),
        (_section("<") + _enhanced("<", 0, 1, b"x"), "unknown interface 0"),
        (_section("<") + _interface("<") + _block("<", 6, struct.pack("<IIIII", 0, 0, 0, 999, 999)), "claims 999"),
        (_section("<") + _interface("<", options=_option("<", 9, b"\x20")), "if_tsresol"),
        (bytes.fromhex("0a0d0d0a 1c000000 00000000"), "byte-order magic"),
    ],
)
def test_broken_pcapng_raises_capture_error_with_reason(data, reason):
    with pytest.raises(CaptureError, match=reason):
        read_capture(data)


# --- classic pcap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("nanosecond", [False, True])
def test_writer_then_reader_round_trip(nanosecond):
    stream = io.BytesIO()
    writer = PcapWriter(stream, nanosecond=nanosecond)
    frames = [(T0_NS, b"\x01" * 60), (T0_NS + 1_500_000_000, b"\x02" * 1514), (T0_NS + 2_000_000_001, b"")]
    for timestamp, data in frames:
        writer.write(timestamp, data)
    packets = read_capture(stream.getvalue())
    resolution = 1 if nanosecond else 1000
    assert [(p.timestamp_ns, p.data, p.linktype) for p in packets] == [
        (timestamp // resolution * resolution, data, 1) for timestamp, data in frames]


def test_pcap_file_writer_closes_and_is_readable(tmp_path):
    path = tmp_path / "session.pcap"
    with PcapFile(path) as capture:
        capture.write(T0_NS, b"hello")
    assert read_capture(path)[0].data == b"hello"


def test_big_endian_pcap():
    header = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack(">IIII", 10, 20, 3, 64) + b"abc"
    assert read_capture(header + record) == [Packet(10_000_020_000, 1, b"abc", 64)]


@pytest.mark.parametrize(
    ("tail", "reason"),
    [(b"\x00" * 5, "record header truncated"), (struct.pack("<IIII", 0, 0, 10, 10) + b"abc", "truncated"),
     (struct.pack("<IIII", 0, 0, 10**8, 10**8), "claims")],
)
def test_broken_pcap_raises_capture_error(tail, reason):
    stream = io.BytesIO()
    PcapWriter(stream)
    with pytest.raises(CaptureError, match=reason):
        read_capture(stream.getvalue() + tail)


def test_missing_file_is_a_capture_error(tmp_path):
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(tmp_path / "absent.pcap")


def test_writer_refuses_huge_frames():
    with pytest.raises(ValueError, match="exceeds"):
        PcapWriter(io.BytesIO()).write(0, bytes(300_000))


@pytest.mark.parametrize(
    ("name", "count"),
    [("2022-12-13_compleo_with_bulb.pcapng", 880), ("2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng", 730),
     ("2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng", 589),
     ("2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop.pcapng", 2601)],
)
def test_real_captures_read_completely(name, count):
    if not (CAPTURES / name).exists():
        pytest.skip(f"shared captures not present ({CAPTURES})")
    packets = read_capture(CAPTURES / name)
    assert len(packets) == count
    assert all(packet.linktype == 1 for packet in packets)
    assert all(a.timestamp_ns <= b.timestamp_ns for a, b in zip(packets, packets[1:]))


# --- TCP stream reassembly -------------------------------------------------------------------------------


def test_stream_in_order_after_syn():
    stream = TcpStream()
    stream.syn(1000)
    first = stream.add(1001, b"abc")
    second = stream.add(1004, b"def")
    assert (first.offset, first.data, second.offset, second.data) == (0, b"abc", 3, b"def")


def test_stream_duplicate_segment_is_reported_not_delivered():
    stream = TcpStream()
    stream.add(1, b"abcdef")
    update = stream.add(1, b"abcdef")
    assert update.data == b"" and update.duplicate == (0, 6)
    assert stream.add(3, b"cd").duplicate == (2, 4)


def test_stream_partial_overlap_delivers_only_new_bytes():
    stream = TcpStream()
    stream.add(1, b"abcdef")
    assert stream.add(4, b"defGHI").data == b"GHI"


def test_stream_out_of_order_waits_for_the_gap():
    stream = TcpStream()
    stream.syn(99)
    assert stream.add(106, b"ghi").data == b""
    assert stream.add(103, b"def").data == b""
    update = stream.add(100, b"abc")
    assert (update.offset, update.data) == (0, b"abcdefghi")
    assert stream.delivered == 9


def test_stream_sequence_wraps_around():
    stream = TcpStream()
    stream.syn(0xFFFFFFFE)
    assert stream.add(0xFFFFFFFF, b"ab").data == b"ab"
    assert stream.add(1, b"cd").data == b"cd"
    assert stream.add(0xFFFFFFFF, b"ab").duplicate == (0, 2)


def test_stream_skips_a_lost_segment_when_too_much_waits():
    stream = TcpStream(max_pending_bytes=8)
    stream.add(0, b"0123")
    assert stream.add(10, b"abcde").data == b""
    update = stream.add(15, b"fghij")
    assert (update.skipped, update.offset, update.data) == (6, 10, b"abcdefghij")
