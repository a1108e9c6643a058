"""The rig's own CAN bus (hil/wires/can.py): dispatch by ID and mask, rejected frames counted, never raised."""
from __future__ import annotations

import asyncio
import os
import time
import uuid

import can
import pytest

from controller.formats.can.codec import FrameRejected
from hil.wires.can import MAX_DRAIN, RigCanBus, open_bus

pytestmark = pytest.mark.timeout(10)


def _frame(arbitration_id: int, data: bytes = bytes(8), extended: bool = False) -> can.Message:
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=extended)


def test_frames_go_to_the_exact_handler_first_then_to_a_mask():
    bus = RigCanBus(can.Bus(interface="virtual", channel=f"rig-{uuid.uuid4().hex}"), "rig")
    got = []
    bus.on(0x111, lambda m: got.append(("exact", m.arbitration_id)))
    bus.on(0x0C0102F0, lambda m: got.append(("exact-ext", m.arbitration_id)), extended=True)
    bus.on(0x0C000000, lambda m: got.append(("masked", m.arbitration_id)), extended=True, mask=0x0FC00000)
    for frame in (_frame(0x111), _frame(0x0C0102F0, extended=True), _frame(0x0C0203F0, extended=True),
                  _frame(0x111, extended=True), _frame(0x222)):
        bus.dispatch(frame)
    bus.close()
    assert got == [("exact", 0x111), ("exact-ext", 0x0C0102F0), ("masked", 0x0C0203F0)]
    assert bus.received == 5 and bus.rejected == 0


def test_a_rejected_frame_or_a_failing_handler_is_counted_and_the_bus_goes_on():
    bus = RigCanBus(can.Bus(interface="virtual", channel=f"rig-{uuid.uuid4().hex}"), "rig")
    got = []

    def refuse(msg):
        raise FrameRejected("IoCommand: CpDuty 120.0 above 100 %")

    bus.on(0x101, refuse)
    bus.on(0x102, lambda m: 1 / 0)
    bus.on(0x103, got.append)
    for arbitration_id in (0x101, 0x102, 0x103):
        bus.dispatch(_frame(arbitration_id))
    bus.close()
    assert len(got) == 1 and bus.rejected == 2
    assert bus.rejected_reasons["IoCommand: CpDuty 120.0 above 100 %"] == 1
    assert any(reason.startswith("handler error") for reason in bus.rejected_reasons)


def test_two_rig_buses_exchange_frames_through_the_event_loop():
    async def scenario():
        channel = f"rig-{uuid.uuid4().hex}"
        a, b = open_bus("a", "virtual", channel), open_bus("b", "virtual", channel)
        received = asyncio.Queue()
        loop = asyncio.get_running_loop()
        b.on(0x120, lambda m: received.put_nowait((bytes(m.data), asyncio.get_running_loop() is loop)))
        a.start(loop)
        b.start(loop)
        try:
            assert a.send(0x120, b"\x01\x02") and a.sent == 1
            assert await asyncio.wait_for(received.get(), 2.0) == (b"\x01\x02", True)
        finally:
            started = time.monotonic()
            a.close()
            b.close()
        assert time.monotonic() - started < 0.5  # the reader threads see close() within their poll period
    asyncio.run(scenario())


def test_own_frames_echoed_back_are_dropped_once_each():
    bus = RigCanBus(can.Bus(interface="virtual", channel=f"rig-{uuid.uuid4().hex}"), "rig", drop_own_frames=True)
    got = []
    bus.on(0x130, got.append)
    assert bus.send(0x130, b"\x05")
    bus.dispatch(_frame(0x130, b"\x05"))  # the echo of our own frame
    bus.dispatch(_frame(0x130, b"\x05"))  # the same bytes from another node
    bus.close()
    assert len(got) == 1 and bus.received == 1


class _DescriptorBus(can.BusABC):
    """A bus with a file descriptor (as SocketCAN has): readable while frames wait."""

    def __init__(self, frames: list[can.Message]):
        self._frames = list(frames)
        self._read_fd, self._write_fd = os.pipe()
        os.write(self._write_fd, b"x" * len(self._frames))
        super().__init__(channel="pipe")

    def fileno(self) -> int:
        return self._read_fd

    def _recv_internal(self, timeout):
        if not self._frames:
            return None, False
        os.read(self._read_fd, 1)
        return self._frames.pop(0), False

    def send(self, msg, timeout=None) -> None:
        pass

    def shutdown(self) -> None:
        os.close(self._read_fd)
        os.close(self._write_fd)
        super().shutdown()


def test_a_bus_with_a_descriptor_is_read_by_the_loop_every_frame_in_order():
    async def scenario():
        bus = RigCanBus(_DescriptorBus([_frame(0x140, bytes([i % 256])) for i in range(MAX_DRAIN + 10)]), "fd")
        got = []
        bus.on(0x140, got.append)
        bus.start(asyncio.get_running_loop())
        await asyncio.sleep(0.01)  # more frames than one wake-up takes: the rest come on the next
        while len(got) < MAX_DRAIN + 10:
            await asyncio.sleep(0.01)
        bus.close()
        return got
    got = asyncio.run(scenario())
    assert [m.data[0] for m in got] == [i % 256 for i in range(MAX_DRAIN + 10)]
