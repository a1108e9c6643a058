"""Seed inputs: payloads and frames from the real captures in ../shared/captures (read at run time, never
copied into the project) and small inputs made here, so every target also has seeds without the captures."""
from __future__ import annotations

import functools
import io
import json
import struct
from pathlib import Path

from controller.formats.v2g import v2gtp
from controller.formats.capture.pcap import PcapWriter, read_packets

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "captures"
CAPTURE_HEAD_BYTES = 4096  # a whole capture is a slow seed: its first packets cover the file format
ETHERTYPE_HOMEPLUG = 0x88E1


def capture_files() -> list[Path]:
    if not CAPTURES.is_dir():
        return []
    return sorted(p for p in CAPTURES.rglob("*") if p.suffix in (".pcap", ".pcapng"))


@functools.cache
def exi_payloads() -> dict[str, tuple[bytes, ...]]:
    """EXI payloads of the captures by schema: the handshake messages are appproto, the rest DIN or ISO-2."""
    found: dict[str, list[bytes]] = {"appproto": [], "din": [], "iso2": []}
    if CAPTURES.is_dir():
        for expected in sorted(CAPTURES.rglob("expected/*.json")):
            schema = "iso2" if expected.parent.parent.name == "iso2" else "din"
            for entry in json.loads(expected.read_text()):
                name = entry.get("decoded", {}).get("msgName", "")
                kind = "appproto" if name.startswith("supportedAppProtocol") else schema
                payload = bytes.fromhex(entry["hex"])
                if payload not in found[kind]:
                    found[kind].append(payload)
    return {k: tuple(v[:200]) for k, v in found.items()}


@functools.cache
def homeplug_frames() -> tuple[bytes, ...]:
    frames: list[bytes] = []
    for path in capture_files():
        try:
            for packet in read_packets(path):
                data = packet.data
                if len(data) >= 14 and struct.unpack_from(">H", data, 12)[0] == ETHERTYPE_HOMEPLUG:
                    if data not in frames:
                        frames.append(data)
        except ValueError:
            continue
    return tuple(frames[:100])


def v2gtp_frames() -> list[bytes]:
    frames = [v2gtp.build_frame(v2gtp.PAYLOAD_EXI, p) for schema in exi_payloads().values() for p in schema[:20]]
    frames.append(v2gtp.SdpRequest(v2gtp.SDP_SECURITY_NONE, v2gtp.SDP_TRANSPORT_TCP).to_frame())
    frames.append(v2gtp.build_frame(v2gtp.PAYLOAD_EXI, b"\x80\x98\x02\x10"))
    return frames


def sdp_datagrams() -> list[bytes]:
    request = v2gtp.SdpRequest(v2gtp.SDP_SECURITY_NONE, v2gtp.SDP_TRANSPORT_TCP)
    response = v2gtp.SdpResponse(bytes(15) + b"\x01", 50000, v2gtp.SDP_SECURITY_NONE, v2gtp.SDP_TRANSPORT_TCP)
    tls = v2gtp.SdpRequest(v2gtp.SDP_SECURITY_TLS, v2gtp.SDP_TRANSPORT_TCP)
    return [request.to_frame(), response.to_frame(), tls.to_frame(), request.to_frame()[:-1]]


def small_pcap() -> bytes:
    """A classic pcap with one SDP datagram over IPv6/UDP and one HomePlug frame."""
    sdp = sdp_datagrams()[0]
    udp = struct.pack(">HHHH", 50000, v2gtp.SDP_PORT, 8 + len(sdp), 0) + sdp
    ip = struct.pack(">IHBB", 6 << 28, len(udp), 17, 255) + bytes(15) + b"\x01" + b"\xff\x02" + bytes(13) + b"\x01"
    ethernet = b"\x33\x33\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x01" + b"\x86\xdd"
    out = io.BytesIO()
    writer = PcapWriter(out)
    writer.write(1_000_000_000, ethernet + ip + udp)
    for frame in homeplug_frames()[:2]:
        writer.write(2_000_000_000, frame)
    return out.getvalue()


def capture_heads() -> list[bytes]:
    return [path.read_bytes()[:CAPTURE_HEAD_BYTES] for path in capture_files()]
