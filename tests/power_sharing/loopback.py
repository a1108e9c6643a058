"""Two ends of an in-memory CAN link: what one end sends reaches the other's handlers at once (deterministic,
no bus thread), for a driver and a simulator in one test."""
from __future__ import annotations

import can


class LoopbackEnd:
    def __init__(self) -> None:
        self.peer: LoopbackEnd | None = None
        self.handlers: dict[int, object] = {}
        self.sent = 0
        self.muted = False  # True: frames sent from this end are lost
        self.held: list[can.Message] | None = None  # a list: frames sent from this end wait in it (a stalled peer)

    def on(self, arbitration_id: int, handler, **_ignored) -> None:
        self.handlers[arbitration_id] = handler

    def send(self, arbitration_id: int, data: bytes, extended: bool = False) -> bool:
        self.sent += 1
        if self.muted or self.peer is None:
            return True
        msg = can.Message(arbitration_id=arbitration_id, data=bytes(data), is_extended_id=extended)
        if self.held is not None:
            self.held.append(msg)
            return True
        self._deliver(msg)
        return True

    def hold(self) -> None:
        """From now on frames sent from this end queue up, as in the socket of a peer that stalled."""
        if self.held is None:
            self.held = []

    def release(self, count: int | None = None) -> None:
        """The peer handles the first `count` queued frames (None: all of them, and every frame at once again),
        in order: a receive queue is read in batches."""
        queued = self.held or []
        if count is None:
            self.held = None
        else:
            queued, self.held = queued[:count], queued[count:]
        for msg in queued:
            self._deliver(msg)

    def _deliver(self, msg: can.Message) -> None:
        handler = self.peer.handlers.get(msg.arbitration_id)
        if handler is not None:
            handler(msg)


def loopback_pair() -> tuple[LoopbackEnd, LoopbackEnd]:
    a, b = LoopbackEnd(), LoopbackEnd()
    a.peer, b.peer = b, a
    return a, b


class CircuitStub:
    """A MatrixPlant whose readings the test sets: current through and voltage of each group, output voltages."""

    def __init__(self) -> None:
        self.currents: dict[int, float] = {}
        self.group_volts: dict[int, float] = {}
        self.output_volts: dict[int, float] = {}

    def group_current_a(self, group: int) -> float:
        return self.currents.get(group, 0.0)

    def group_voltage_v(self, group: int) -> float:
        return self.group_volts.get(group, 0.0)

    def output_voltage_v(self, output: int) -> float:
        return self.output_volts.get(output, 0.0)
