"""Target for every CAN frame we receive: the I/O board driver and each power-module vendor's group, on real
CanPorts (virtual bus, no reader), plus the console's frame decoder (cantrace).

An input is a sequence of frames: [flags, id0, id1, id2, id3, length, payload...]. Flags bit 0: extended ID;
bit 1: take the ID from the registered routes (exact ID, or a masked route with the ID's free bits from the
input) instead of the raw 29 bits, so most frames reach a handler; bits 2-3: which bus (vendor). The handler
is called directly, not through CanPort._run (which logs and swallows anything): FrameRejected is the one
error a handler may raise for a bad frame.
"""
from __future__ import annotations

import atexit
import struct
import uuid

from tools.fuzz.target import OneInput, Target

VENDORS = ("infypower", "uugreen", "uugreen-40")
ADDRESSES = (1, 2, 3)
CONNECTORS = (1, 2)
MAX_FRAMES = 16


def _build() -> OneInput:
    import can

    from controller.console.frame_decoder import FrameDecoder
    from controller.hw.can_port import CanPort
    from controller.hw.io_board import IoBoard
    from controller.hw.power import PowerModuleGroup

    buses = []
    for vendor in VENDORS:
        port = CanPort(can.Bus(interface="virtual", channel=f"fuzz-{uuid.uuid4().hex}"), f"fuzz-{vendor}")
        atexit.register(port.close)  # python-can warns about a virtual bus left open at exit
        boards = [IoBoard(port, c, on_status=lambda s: None, on_fault=lambda *a: None) for c in CONNECTORS]
        for board in boards:
            board.attach()
        group = PowerModuleGroup(port, vendor, ADDRESSES, 0, on_fault=lambda *a: None)
        group.attach()
        group.listen_telemetry(lambda: None)
        group.set_output(400.0, 30.0)
        group.switch_on()
        routes = sorted(port._exact) + [(value, mask, ext) for ext, value, mask, _ in port._masked]
        buses.append((port, routes, FrameDecoder(vendor)))

    def frame_id(flags: int, raw: int, routes: list) -> tuple[int, bool]:
        if not flags & 2:
            extended = bool(flags & 1)
            return raw & (0x1FFFFFFF if extended else 0x7FF), extended
        route = routes[raw % len(routes)]
        if isinstance(route, int):  # exact route key: the ID, plus bit 29 for extended
            return route & 0x1FFFFFFF, bool(route >> 29)
        value, mask, extended = route
        return value | ((raw >> 8) & ~mask & 0x1FFFFFFF), extended

    def one(data: bytes) -> None:
        offset = 0
        for _ in range(MAX_FRAMES):
            if len(data) - offset < 6:
                return
            flags, raw, length = data[offset], struct.unpack_from("<I", data, offset + 1)[0], data[offset + 5]
            offset += 6
            payload = data[offset:offset + length % 65]  # any DLC up to a CAN FD frame's 64 bytes
            offset += len(payload)
            port, routes, decoder = buses[(flags >> 2) % len(buses)]
            arbitration_id, extended = frame_id(flags, raw, routes)
            msg = can.Message(arbitration_id=arbitration_id, is_extended_id=extended, data=payload,
                              is_fd=len(payload) > 8, check=False)
            decoder.describe(msg)
            route = port._accept(msg)
            if route is not None:
                route[0](msg)
    return one


def _seeds() -> list[bytes]:
    def frame(flags: int, raw: int, payload: bytes) -> bytes:
        return bytes([flags]) + struct.pack("<I", raw) + bytes([len(payload)]) + payload

    out = []
    for bus in range(len(VENDORS)):
        routed = [frame(2 | bus << 2, index, bytes(8)) for index in range(12)]
        out.append(b"".join(routed))
        out.append(frame(2 | bus << 2, 0, b"\xff" * 8) + frame(2 | bus << 2, 1, b"\x01\x02\x03"))
    out.append(frame(0, 0x101, bytes(8)) + frame(1, 0x1C0AF001, bytes(8)))
    return out


def targets() -> list[Target]:
    from controller.formats.can.codec import FrameRejected

    return [Target("can", "IoBoard and PowerModuleGroup receive handlers (3 vendors), console FrameDecoder",
                   (FrameRejected,), _build, _seeds, 16 * 70)]
