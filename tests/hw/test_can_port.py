"""CanPort: dispatch by ID and mask, unknown IDs counted, bad frames rejected without stopping the port."""
from __future__ import annotations

import asyncio
import uuid

import can
import pytest

from controller.hw.can_port import CanPort, FrameRejected, decode_checked
from controller.hw.dbc import load_dbc

pytestmark = pytest.mark.timeout(30)


def _pair():
    channel = f"port-{uuid.uuid4().hex}"
    return (CanPort(can.Bus(interface="virtual", channel=channel), "a"),
            CanPort(can.Bus(interface="virtual", channel=channel), "b"))


async def _exchange(frames, setup):
    sender, receiver = _pair()
    setup(receiver)
    receiver.start(asyncio.get_running_loop())
    for arbitration_id, data, extended in frames:
        sender.send(arbitration_id, data, extended)
    await asyncio.sleep(0.2)
    sender.close()
    receiver.close()
    return receiver


def test_exact_and_masked_dispatch_and_unknown_ids():
    got = []

    def setup(port):
        port.on(0x111, lambda m: got.append(("exact", m.arbitration_id)))
        port.on(0x0C000000, lambda m: got.append(("masked", m.arbitration_id)), extended=True, mask=0x0FC00000)

    port = asyncio.run(_exchange([(0x111, b"\x00" * 8, False), (0x0C0102F0, b"\x01" * 8, True),
                                  (0x222, b"", False), (0x111, b"\x00" * 8, True)], setup))
    assert got == [("exact", 0x111), ("masked", 0x0C0102F0)]
    assert port.counters.unknown_id == 2  # 0x222 and the extended 0x111
    assert port.counters.received == 4


def test_bad_frames_are_counted_and_the_port_keeps_working():
    status = load_dbc("io_board").get_message_by_name("IoStatus")
    decoded = []

    def handler(msg):
        decoded.append(decode_checked(status, msg))

    def boom(msg):
        raise RuntimeError("driver bug")

    def setup(port):
        port.on(status.frame_id + 1, handler)
        port.on(0x7FF, boom)

    port = asyncio.run(_exchange([(status.frame_id + 1, b"\x01\x02", False),  # short DLC
                                  (0x7FF, b"\x00", False),  # a handler that raises
                                  (status.frame_id + 1, bytes(8), False)], setup))
    assert len(decoded) == 1
    assert port.counters.rejected == 2
    assert any("DLC 2" in reason for reason in port.counters.rejected_reasons)


def test_decode_checked_names_the_message():
    status = load_dbc("io_board").get_message_by_name("IoStatus")
    with pytest.raises(FrameRejected, match="IoStatus: DLC 3"):
        decode_checked(status, can.Message(arbitration_id=0x111, data=b"abc"))
