"""One CAN bus with dispatch by arbitration ID and counters for bad input.

Handlers run synchronously in the event loop thread, so a driver can answer a fault frame with its own frames
in the same call: no queue sits between the frame that reports a fault and the frames that switch modules off
and open contactors. Received frames arrive in batches (can_reader); in each batch the frames a handler marks
as urgent (those that can report a fault) run first, the telemetry after them.
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import can

from controller.formats.can.frame_rejected import FrameRejected
from controller.hw.can_reader import FdReader, ThreadReader, VirtualReader, start_reader

log = logging.getLogger(__name__)

FrameHandler = Callable[[can.Message], None]
UrgentTest = Callable[[can.Message], bool]
_Route = tuple[FrameHandler, "UrgentTest | bool"]

RESOLVED_CACHE_MAX = 4096  # IDs remembered with their route; a bus full of random IDs cannot grow it further
_EXTENDED = 1 << 29  # route keys: the 29-bit ID, plus this bit for extended frames
_MAX_STANDARD_ID = 0x7FF
_MAX_EXTENDED_ID = 0x1FFFFFFF


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
        self._exact: dict[int, _Route] = {}
        self._masked: list[tuple[bool, int, int, _Route]] = []
        self._resolved: dict[int, _Route | None] = {}  # route key -> route found (exact or masked), None = unknown
        self._taps: list[FrameHandler] = []
        self._reader: FdReader | VirtualReader | ThreadReader | None = None
        # udp_multicast delivers our own frames back to us; drop them by content.
        self._echo_pending: Counter | None = Counter() if filter_own_echo else None

    def on(self, arbitration_id: int, handler: FrameHandler, extended: bool = False,
           mask: int | None = None, urgent: UrgentTest | bool = False) -> None:
        """Call `handler` for frames whose ID matches `arbitration_id` (under `mask` if given).

        `urgent`: True, or a test of the frame, for frames that can report a fault; in a received batch they
        are handled before the others."""
        route = (handler, urgent)
        if mask is None:
            self._exact[arbitration_id | (_EXTENDED if extended else 0)] = route
        else:
            self._masked.append((extended, arbitration_id & mask, mask, route))
        self._resolved.clear()

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
        self._tap(msg)
        return True

    def dispatch(self, msg: can.Message) -> None:
        """Route one received frame; never raises."""
        route = self._accept(msg)
        if route is not None:
            self._run(route[0], msg)

    def dispatch_batch(self, batch: list[can.Message]) -> None:
        """Route frames received together: the urgent ones first, each group in arrival order; never raises."""
        later = []
        for msg in batch:
            route = self._accept(msg)
            if route is None:
                continue
            handler, urgent = route
            if urgent is True or (urgent and self._is_urgent(urgent, msg)):
                self._run(handler, msg)
            else:
                later.append((handler, msg))
        for handler, msg in later:
            self._run(handler, msg)

    def _accept(self, msg: can.Message) -> _Route | None:
        """Echo filter, counters and taps; the frame's route, or None when there is nothing to call."""
        if msg.is_error_frame or msg.is_remote_frame:
            return None
        if self._echo_pending is not None:
            key = (msg.is_extended_id, msg.arbitration_id, bytes(msg.data))
            if self._echo_pending.get(key):
                self._echo_pending[key] -= 1
                return None
        self.counters.received += 1
        self._tap(msg)
        if msg.arbitration_id > (_MAX_EXTENDED_ID if msg.is_extended_id else _MAX_STANDARD_ID):
            self._reject(msg, "identifier out of range for its frame format")
            return None
        route_key = msg.arbitration_id | (_EXTENDED if msg.is_extended_id else 0)
        try:
            route = self._resolved[route_key]
        except KeyError:
            route = self._route(msg.is_extended_id, msg.arbitration_id, route_key)
        if route is None:
            self.counters.unknown_id += 1
        return route

    def _route(self, extended: bool, arbitration_id: int, route_key: int) -> _Route | None:
        route = self._exact.get(route_key)
        if route is None:
            for ext, value, mask, candidate in self._masked:
                if ext == extended and arbitration_id & mask == value:
                    route = candidate
                    break
        if len(self._resolved) >= RESOLVED_CACHE_MAX:
            self._resolved.clear()
        self._resolved[route_key] = route
        return route

    def _is_urgent(self, test: UrgentTest, msg: can.Message) -> bool:
        try:
            return bool(test(msg))
        except Exception:  # a frame the test cannot read is left to its handler, which rejects it
            return False

    def _tap(self, msg: can.Message) -> None:
        for tap in self._taps:
            try:
                tap(msg)
            except Exception:  # a broken trace must not cost the frame, its batch, or the rest of a power-off
                log.exception("%s: tap failed", self.name)

    def _run(self, handler: FrameHandler, msg: can.Message) -> None:
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

    def _receive_error(self, reason: str) -> None:
        self.counters.rejected += 1
        self.counters.rejected_reasons[reason] += 1
        if self.counters.rejected_reasons[reason] <= 3:
            log.warning("%s: %s", self.name, reason)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start receiving into `loop` (call from the loop's thread)."""
        if self._reader is None:
            self._reader = start_reader(self.bus, loop, self.dispatch_batch, self._receive_error)

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.stop()
            self._reader = None

    def close(self) -> None:
        self.stop()
        self.bus.shutdown()

