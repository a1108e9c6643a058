"""One CAN bus with dispatch by arbitration ID and counters for bad input.

Handlers run synchronously in the event loop thread (python-can's Notifier with
the asyncio loop), so a driver can answer a fault frame with its own frames in
the same call: no queue sits between the frame that reports a fault and the
frames that switch modules off and open contactors.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import can

log = logging.getLogger(__name__)

FrameHandler = Callable[[can.Message], None]


class FrameRejected(ValueError):
    """Raised by a handler for a frame with a wrong DLC or out-of-range values."""


@dataclass
class PortCounters:
    received: int = 0
    sent: int = 0
    unknown_id: int = 0
    rejected: int = 0
    send_errors: int = 0
    rejected_reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "received": self.received, "sent": self.sent, "unknown_id": self.unknown_id,
            "rejected": self.rejected, "send_errors": self.send_errors,
        }


class CanPort:
    """Dispatches received frames to handlers keyed by (extended, id) or by a mask."""

    def __init__(self, bus: can.BusABC, name: str, filter_own_echo: bool = False):
        self.bus = bus
        self.name = name
        self.counters = PortCounters()
        self._exact: dict[tuple[bool, int], FrameHandler] = {}
        self._masked: list[tuple[bool, int, int, FrameHandler]] = []
        self._taps: list[FrameHandler] = []
        self._notifier: can.Notifier | None = None
        # udp_multicast delivers our own frames back to us; drop them by content.
        self._echo_pending: Counter | None = Counter() if filter_own_echo else None

    def on(self, arbitration_id: int, handler: FrameHandler, extended: bool = False,
           mask: int | None = None) -> None:
        """Call `handler` for frames whose ID matches `arbitration_id` (under `mask` if given)."""
        if mask is None:
            self._exact[(extended, arbitration_id)] = handler
        else:
            self._masked.append((extended, arbitration_id & mask, mask, handler))

    def tap(self, handler: FrameHandler) -> None:
        """Also give every received frame to `handler` (bus observers, traces)."""
        self._taps.append(handler)

    def untap(self, handler: FrameHandler) -> None:
        if handler in self._taps:
            self._taps.remove(handler)

    def send(self, arbitration_id: int, data: bytes, extended: bool = False) -> bool:
        msg = can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=extended)
        try:
            self.bus.send(msg)
        except (can.CanError, OSError) as exc:
            self.counters.send_errors += 1
            log.warning("%s: send of 0x%X failed: %s", self.name, arbitration_id, exc)
            return False
        if self._echo_pending is not None:
            self._echo_pending[(extended, arbitration_id, bytes(data))] += 1
        self.counters.sent += 1
        for tap in self._taps:
            tap(msg)
        return True

    def dispatch(self, msg: can.Message) -> None:
        """Route one received frame; never raises."""
        if msg.is_error_frame or msg.is_remote_frame:
            return
        extended = msg.is_extended_id
        if self._echo_pending is not None:
            key = (extended, msg.arbitration_id, bytes(msg.data))
            if self._echo_pending.get(key):
                self._echo_pending[key] -= 1
                return
        self.counters.received += 1
        for tap in self._taps:
            tap(msg)
        handler = self._exact.get((extended, msg.arbitration_id))
        if handler is None:
            for ext, value, mask, candidate in self._masked:
                if ext == extended and msg.arbitration_id & mask == value:
                    handler = candidate
                    break
        if handler is None:
            self.counters.unknown_id += 1
            return
        try:
            handler(msg)
        except FrameRejected as exc:
            self._reject(msg, str(exc))
        except Exception as exc:  # a bad frame must never stop the receive path
            log.exception("%s: handler for 0x%X failed", self.name, msg.arbitration_id)
            self._reject(msg, f"handler error: {exc}")

    def _reject(self, msg: can.Message, reason: str) -> None:
        self.counters.rejected += 1
        self.counters.rejected_reasons[reason] += 1
        if self.counters.rejected_reasons[reason] <= 3:
            log.warning("%s: rejected frame 0x%X [%s]: %s", self.name, msg.arbitration_id,
                        msg.data.hex(), reason)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        # short receive timeout: reader threads (buses without a file descriptor) then stop quickly
        self._notifier = can.Notifier(self.bus, [self.dispatch], timeout=0.05, loop=loop)

    def stop(self) -> None:
        if self._notifier is not None:
            self._notifier.stop(timeout=0.2)
            self._notifier = None

    def close(self) -> None:
        self.stop()
        self.bus.shutdown()


def decode_checked(message, msg: can.Message) -> dict:
    """Decode with a cantools message, turning length and range problems into FrameRejected."""
    if len(msg.data) != message.length:
        raise FrameRejected(f"{message.name}: DLC {len(msg.data)}, expected {message.length}")
    try:
        return message.decode(msg.data, decode_choices=False)
    except Exception as exc:
        raise FrameRejected(f"{message.name}: {exc}") from exc
