"""A passive CAN observer: its own python-can bus on each channel, recording (time, id, data) of every frame.

Timestamps come from the transport, not from when the observer reads: the `virtual` bus stamps a frame when it
is sent, udp_multicast stamps it when the kernel receives it (SO_TIMESTAMPNS). So a slow observer does not
bend the figures. A `virtual` bus queues without limit and is drained at stop(); a udp_multicast socket has a
bounded buffer, so a reader thread empties it while the run goes on.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import can
from can.interfaces.virtual import VirtualBus


@dataclass(frozen=True)
class Frame:
    t: float  # seconds, wall clock (time.time() scale)
    arbitration_id: int
    extended: bool
    data: bytes


class BusObserver:
    def __init__(self, channels: list[tuple[str, str]]):
        """`channels`: (python-can interface, channel) pairs; duplicates are observed once."""
        self._channels = list(dict.fromkeys(channels))
        self._buses: list[can.BusABC] = []
        self._frames: list[Frame] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> None:
        for interface, channel in self._channels:
            kwargs = {"fd": False} if interface == "udp_multicast" else {}
            bus = can.Bus(interface=interface, channel=channel, **kwargs)
            self._buses.append(bus)
            if not isinstance(bus, VirtualBus):
                thread = threading.Thread(target=self._read, args=(bus,), name=f"observer-{channel}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _read(self, bus: can.BusABC) -> None:
        while not self._stopping.is_set():
            msg = bus.recv(timeout=0.05)
            if msg is not None:
                self._record(msg)

    def _record(self, msg: can.Message) -> None:
        if not (msg.is_error_frame or msg.is_remote_frame):
            self._frames.append(Frame(msg.timestamp, msg.arbitration_id, msg.is_extended_id, bytes(msg.data)))

    def stop(self) -> list[Frame]:
        """Stop observing; every frame seen, in time order."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=1.0)
        for bus in self._buses:
            if isinstance(bus, VirtualBus):
                while (msg := bus.recv(timeout=0)) is not None:
                    self._record(msg)
            bus.shutdown()
        self._buses.clear()
        self._threads.clear()
        return sorted(self._frames, key=lambda f: f.t)
