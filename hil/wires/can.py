"""The rig's CAN buses: a python-can bus per channel, received frames handed to handlers in the event loop.

A bus with a file descriptor (SocketCAN, udp_multicast) is read by the loop itself, everything readable at
once (one frame per wake-up falls behind a busy bus on a slow CPU); any other bus by a python-can Notifier
thread that calls us in the loop's thread. Handlers are looked up by exact ID or by ID under a mask. A
handler rejects a frame by raising FrameRejected; rejected frames are counted by reason, never raised past
the bus.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from typing import Callable

import can

from controller.formats.can.frame_rejected import FrameRejected

log = logging.getLogger(__name__)

Handler = Callable[[can.Message], None]
NO_BITRATE = ("virtual", "udp_multicast")  # interfaces that take no bitrate argument
SHUTDOWN_WAIT_S = 1.0
MAX_DRAIN = 256  # frames read per wake-up; the rest waits one loop turn so timers and sockets run too
RECEIVE_POLL_S = 0.05  # a reader thread (buses without a file descriptor) sees close() this quickly


def open_bus(name: str, interface: str, channel: str, bitrate: int | None = None,
             options: dict | None = None) -> RigCanBus:
    """A bus on `interface`:`channel` (any python-can interface), as the cabinet file names it."""
    kwargs = dict(options or {})
    if bitrate and interface not in NO_BITRATE:
        kwargs["bitrate"] = bitrate
    if interface == "udp_multicast":
        kwargs.setdefault("fd", False)
    bus = can.Bus(interface=interface, channel=channel, **kwargs)
    # udp_multicast hands a sender its own frames back; the other interfaces do not by default
    return RigCanBus(bus, name, drop_own_frames=interface == "udp_multicast")


class RigCanBus:
    def __init__(self, bus: can.BusABC, name: str, drop_own_frames: bool = False):
        self.bus = bus
        self.name = name
        self.received = 0
        self.sent = 0
        self.send_failures = 0
        self.rejected_reasons: collections.Counter[str] = collections.Counter()
        self._by_id: dict[tuple[bool, int], Handler] = {}
        self._by_mask: list[tuple[bool, int, int, Handler]] = []
        self._own_in_flight: collections.Counter | None = collections.Counter() if drop_own_frames else None
        self._notifier: can.Notifier | None = None
        self._reading: tuple[asyncio.AbstractEventLoop, int] | None = None  # (loop, fd) read by the loop

    def on(self, arbitration_id: int, handler: Handler, extended: bool = False, mask: int | None = None) -> None:
        """Give frames with this ID (or matching it under `mask`) to `handler`."""
        if mask is None:
            self._by_id[(extended, arbitration_id)] = handler
        else:
            self._by_mask.append((extended, arbitration_id & mask, mask, handler))

    def send(self, arbitration_id: int, data: bytes, extended: bool = False) -> bool:
        frame = can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=extended)
        try:
            self.bus.send(frame)
        except (can.CanError, OSError) as exc:
            self.send_failures += 1
            log.warning("%s: could not send 0x%X: %s", self.name, arbitration_id, exc)
            return False
        if self._own_in_flight is not None:
            self._own_in_flight[(extended, arbitration_id, bytes(data))] += 1
        self.sent += 1
        return True

    @property
    def rejected(self) -> int:
        return sum(self.rejected_reasons.values())

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start receiving; handlers run in `loop`'s thread (call from it)."""
        if self._notifier is not None or self._reading is not None:
            return
        try:
            fd = self.bus.fileno()
        except NotImplementedError:
            fd = -1
        if fd >= 0:
            loop.add_reader(fd, self._drain)
            self._reading = (loop, fd)
        else:
            self._notifier = can.Notifier(self.bus, [self.dispatch], timeout=RECEIVE_POLL_S, loop=loop)

    def _drain(self) -> None:
        for _ in range(MAX_DRAIN):
            try:
                frame = self.bus.recv(0)
            except Exception as exc:  # one garbled datagram or a driver error: count it, keep reading later
                self.rejected_reasons[f"receive failed: {exc.__class__.__name__}"] += 1
                return
            if frame is None:
                return
            self.dispatch(frame)

    def close(self) -> None:
        if self._reading is not None:
            loop, fd = self._reading
            self._reading = None
            if not loop.is_closed():
                loop.remove_reader(fd)
        if self._notifier is not None:
            self._notifier.stop(SHUTDOWN_WAIT_S)
            self._notifier = None
        self.bus.shutdown()

    def dispatch(self, frame: can.Message) -> None:
        """Handle one received frame (the Notifier calls this; tests may too); never raises."""
        if frame.is_error_frame or frame.is_remote_frame:
            return
        if self._own_in_flight is not None:
            key = (frame.is_extended_id, frame.arbitration_id, bytes(frame.data))
            if self._own_in_flight[key] > 0:
                self._own_in_flight[key] -= 1
                return
        self.received += 1
        handler = self._handler_for(frame.is_extended_id, frame.arbitration_id)
        if handler is None:
            return
        try:
            handler(frame)
        except FrameRejected as exc:
            self._reject(frame, str(exc))
        except Exception as exc:  # a simulator bug must not stop the bus; it shows in the log and the counts
            log.exception("%s: handler for 0x%X failed", self.name, frame.arbitration_id)
            self._reject(frame, f"handler error: {exc}")

    def _handler_for(self, extended: bool, arbitration_id: int) -> Handler | None:
        handler = self._by_id.get((extended, arbitration_id))
        if handler is not None:
            return handler
        for mask_extended, value, mask, candidate in self._by_mask:
            if mask_extended == extended and arbitration_id & mask == value:
                return candidate
        return None

    def _reject(self, frame: can.Message, reason: str) -> None:
        self.rejected_reasons[reason] += 1
        if self.rejected_reasons[reason] <= 3:
            log.warning("%s: rejected frame 0x%X [%s]: %s", self.name, frame.arbitration_id, frame.data.hex(), reason)
