"""CanPort: dispatch by ID and mask, unknown IDs counted, bad frames rejected without stopping the port."""
from __future__ import annotations

import asyncio
import os
import uuid

import can
import pytest

from controller.formats.can.codec import decode_frame
from controller.hw.can_port import CanPort
from controller.formats.can.dbc import load_dbc

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
        decoded.append(decode_frame(status, msg))

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


# ---- batches and readers ------------------------------------------------------------------------------------

def _frame(arbitration_id: int, data: bytes = bytes(8)) -> can.Message:
    return can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False)


def test_urgent_frames_run_first_in_a_batch_each_kind_in_arrival_order():
    port, other = _pair()
    order = []
    port.on(0x100, lambda m: order.append(("telemetry", m.data[0])))
    port.on(0x200, lambda m: order.append(("status", m.data[0])), urgent=True)
    port.on(0x300, lambda m: order.append(("module", m.data[0])), urgent=lambda m: m.data[1] == 8)
    port.dispatch_batch([_frame(0x100, bytes([1, 0])), _frame(0x300, bytes([2, 0])), _frame(0x200, bytes([3, 0])),
                         _frame(0x300, bytes([4, 8])), _frame(0x100, bytes([5, 0])), _frame(0x200, bytes([6, 0]))])
    assert order == [("status", 3), ("module", 4), ("status", 6), ("telemetry", 1), ("module", 2), ("telemetry", 5)]
    assert port.counters.received == 6
    port.close()
    other.close()


def test_an_urgent_test_that_fails_leaves_the_frame_to_its_handler():
    port, other = _pair()
    got = []
    port.on(0x300, got.append, urgent=lambda m: m.data[5] == 8)  # short frames make the test raise
    port.dispatch_batch([_frame(0x300, b"\x01")])
    assert len(got) == 1 and port.counters.rejected == 0
    port.close()
    other.close()


def test_frames_sent_before_start_are_delivered_on_a_virtual_bus():
    async def scenario():
        sender, receiver = _pair()
        got = []
        receiver.on(0x111, lambda m: got.append(m.data[0]))
        for i in range(3):
            sender.send(0x111, bytes([i]))
        receiver.start(asyncio.get_running_loop())
        for i in range(3, 200):  # more than one batch
            sender.send(0x111, bytes([i % 256]))
        await asyncio.sleep(0.05)
        sender.close()
        receiver.close()
        return got

    assert asyncio.run(scenario()) == [i % 256 for i in range(200)]


class _QueueBus(can.BusABC):
    """A bus with neither a file descriptor nor python-can's virtual queue: read by the thread reader."""

    def __init__(self, frames: list[can.Message], fail_once: Exception | None = None):
        self._frames = list(frames)
        self._fail_once = fail_once
        self._total = len(frames)
        super().__init__(channel="queue")

    def _recv_internal(self, timeout):
        if self._fail_once is not None and len(self._frames) == self._total - 2:  # after two frames of a batch
            error, self._fail_once = self._fail_once, None
            raise error
        if self._frames:
            return self._frames.pop(0), False
        return None, False

    def send(self, msg, timeout=None):
        pass


class _PipeBus(_QueueBus):
    """Like _QueueBus, with a descriptor that is readable while frames wait: read by the fd reader."""

    def __init__(self, frames: list[can.Message], fail_once: Exception | None = None):
        self._read_fd, self._write_fd = os.pipe()
        os.write(self._write_fd, b"x")
        super().__init__(frames, fail_once)

    def fileno(self) -> int:
        return self._read_fd

    def _recv_internal(self, timeout):
        msg, filtered = super()._recv_internal(timeout)
        if msg is None and self._read_fd >= 0:
            os.read(self._read_fd, 1)  # empty: no longer readable
        return msg, filtered

    def shutdown(self):
        super().shutdown()
        os.close(self._read_fd)
        os.close(self._write_fd)


@pytest.mark.parametrize("error", [can.CanOperationError("garbled datagram"), KeyError("garbled field")])
@pytest.mark.parametrize("bus_type", [_QueueBus, _PipeBus])
def test_thread_and_fd_readers_deliver_in_order_and_survive_a_receive_error(bus_type, error):
    """Any error a driver raises (not only python-can's own) is counted; frames read before it are kept."""
    async def scenario():
        port = CanPort(bus_type([_frame(0x111, bytes([i])) for i in range(100)], fail_once=error), "p")
        got = []
        port.on(0x111, lambda m: got.append(m.data[0]))
        port.start(asyncio.get_running_loop())
        for _ in range(200):
            if len(got) == 100:
                break
            await asyncio.sleep(0.01)
        port.close()
        return got, port.counters

    got, counters = asyncio.run(scenario())
    # the failed read is counted and lost nothing: the thread backs off and reads on, the fd reader reads on at
    # the next readable event (more than one batch)
    assert counters.rejected == 1 and any("garbled" in r for r in counters.rejected_reasons)
    assert got == list(range(100))


def test_a_port_left_open_after_its_loop_closed_does_not_break_senders():
    async def start(port):
        port.start(asyncio.get_running_loop())

    sender, stale = _pair()
    asyncio.run(start(stale))  # its loop is gone; the port was never closed
    assert sender.send(0x111, bytes(8))
    assert sender.send(0x111, bytes(8))
    sender.close()
    stale.close()


def test_an_identifier_too_long_for_its_frame_format_is_rejected_with_a_reason():
    port = CanPort(can.Bus(interface="virtual", channel=f"range-{os.getpid()}"), "p")
    got = []
    port.on(0x123, lambda m: got.append(m))
    port.dispatch(can.Message(arbitration_id=0x123 | (1 << 29), data=b"\x00", is_extended_id=False))
    port.dispatch(can.Message(arbitration_id=0x123, data=b"\x00", is_extended_id=False))
    port.close()
    assert len(got) == 1 and port.counters.rejected_reasons["identifier out of range for its frame format"] == 1


def test_a_failing_tap_on_send_costs_no_frame():
    port = CanPort(can.Bus(interface="virtual", channel=f"tap-{os.getpid()}"), "p")

    def broken(msg):
        raise RuntimeError("trace file full")
    port.tap(broken)
    sent = [port.send(0x100 + i, b"\x00") for i in range(3)]  # e.g. the module-off frames of a power-down
    port.close()
    assert sent == [True, True, True] and port.counters.sent == 3
