"""How a CanPort gets received frames into the event loop, in batches.

python-can's Notifier hands the loop one frame per callback, and for buses without a file descriptor it reads
in a thread that must win the GIL from a busy loop before a frame is even seen. A frame that reports a fault
then waits behind every frame queued before it. These readers instead hand over everything that has arrived
as one batch, so the port can run the frames that may report a fault first:

  FdReader       buses with a file descriptor (socketcan, udp_multicast): the loop watches the descriptor and
                 drains what is readable, no thread;
  VirtualReader  python-can's in-process `virtual` bus: its receive queue wakes the loop when a frame is put,
                 no thread (the senders of a simulation run in this loop);
  ThreadReader   any other bus: a thread receives and hands batches to the loop.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from typing import Callable

import can
from can.interfaces.virtual import VirtualBus, channels_lock

log = logging.getLogger(__name__)

BatchSink = Callable[[list[can.Message]], None]
ErrorSink = Callable[[str], None]

MAX_BATCH = 64  # frames handed over per callback; the rest waits one loop turn so timers and sockets run too
RECEIVE_TIMEOUT_S = 0.05  # thread reader: how quickly it sees stop()
ERROR_BACKOFF_S = 0.1


class FdReader:
    def __init__(self, bus: can.BusABC, fd: int, loop: asyncio.AbstractEventLoop, on_batch: BatchSink,
                 on_error: ErrorSink):
        self._bus, self._fd, self._loop = bus, fd, loop
        self._on_batch, self._on_error = on_batch, on_error
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        batch = []
        try:
            while len(batch) < MAX_BATCH and (msg := self._bus.recv(0)) is not None:
                batch.append(msg)
        except Exception as exc:  # one bad datagram (any error a driver raises): keep what came before it
            self._on_error(f"receive failed: {exc.__class__.__name__}: {exc}")
        finally:
            if batch:
                self._on_batch(batch)

    def stop(self) -> None:
        self._loop.remove_reader(self._fd)


class _WakingQueue(queue.Queue):
    """A virtual bus's receive queue that calls `wake` after each put (in the sender's thread)."""

    def __init__(self, wake: Callable[[], None], maxsize: int = 0):
        super().__init__(maxsize)
        self.wake = wake

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self.wake()


class VirtualReader:
    def __init__(self, bus: VirtualBus, loop: asyncio.AbstractEventLoop, on_batch: BatchSink):
        self._loop, self._on_batch = loop, on_batch
        self._loop_thread = threading.get_ident()  # start() runs in the loop's thread
        self._scheduled = False
        self._stopped = False
        self._queue = _WakingQueue(self._wake, bus.queue.maxsize)  # keep the bus's rx_queue_size
        with channels_lock:  # swap the bus's queue in place, keeping frames that came before start
            old = bus.queue
            bus.channel[bus.channel.index(old)] = self._queue
            bus.queue = self._queue
            while True:
                try:
                    self._queue.put(old.get_nowait())
                except queue.Empty:
                    break

    def _wake(self) -> None:
        """Runs inside the sender's send(): must never raise into it."""
        if self._scheduled or self._stopped:
            return
        self._scheduled = True
        try:
            if threading.get_ident() == self._loop_thread:
                self._loop.call_soon(self._drain)
            else:
                self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed (a port never closed): nobody left to hand frames to
            self._stopped = True

    def _drain(self) -> None:
        self._scheduled = False  # before taking: a put from another thread from now on schedules again
        if self._stopped:
            return
        batch = []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if len(batch) == MAX_BATCH:
            self._wake()  # more waiting: next loop turn
        if batch:
            self._on_batch(batch)

    def stop(self) -> None:
        self._stopped = True


class ThreadReader:
    def __init__(self, bus: can.BusABC, loop: asyncio.AbstractEventLoop, on_batch: BatchSink,
                 on_error: ErrorSink):
        self._bus, self._loop = bus, loop
        self._on_batch, self._on_error = on_batch, on_error
        self._pending: deque[can.Message] = deque()
        self._scheduled = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"can-reader {bus.channel_info}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            try:
                msg = self._bus.recv(RECEIVE_TIMEOUT_S)
            except Exception as exc:  # any driver error: count it and keep reading; never die silently
                if self._stopped:
                    return
                try:
                    self._loop.call_soon_threadsafe(self._on_error,
                                                    f"receive failed: {exc.__class__.__name__}: {exc}")
                except RuntimeError:  # the loop is closed
                    return
                time.sleep(ERROR_BACKOFF_S)
                continue
            if msg is None:
                continue
            self._pending.append(msg)
            if not self._scheduled:
                self._scheduled = True
                try:
                    self._loop.call_soon_threadsafe(self._drain)
                except RuntimeError:  # the loop is closed
                    return

    def _drain(self) -> None:
        self._scheduled = False
        batch = []
        while self._pending and len(batch) < MAX_BATCH:
            batch.append(self._pending.popleft())
        if self._pending and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._drain)
        if batch and not self._stopped:
            self._on_batch(batch)

    def stop(self, timeout_s: float = 0.2) -> None:
        self._stopped = True
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)


def start_reader(bus: can.BusABC, loop: asyncio.AbstractEventLoop, on_batch: BatchSink,
                 on_error: ErrorSink) -> FdReader | VirtualReader | ThreadReader:
    """The cheapest reader the bus allows."""
    if isinstance(bus, VirtualBus) and isinstance(getattr(bus, "queue", None), queue.Queue) \
            and isinstance(getattr(bus, "channel", None), list):
        return VirtualReader(bus, loop, on_batch)
    try:
        fd = bus.fileno()
    except NotImplementedError:
        fd = -1
    if fd >= 0:
        return FdReader(bus, fd, loop, on_batch, on_error)
    return ThreadReader(bus, loop, on_batch, on_error)
