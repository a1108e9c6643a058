"""The rig's Ethernet frame ends for SLAC: an in-memory cable, a raw AF_PACKET socket, and a HomePlug reader.

Every end has the same small surface (`mac`, `send(frame)`, `await receive()`, `close()`), so the simulated
powerline and the car's SLAC run the same over a veth pair or in memory. A closed end raises WireClosed.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from typing import Callable, Protocol

from controller.formats.v2g.slac_messages import ETHERTYPE_HOMEPLUG, HomePlugFrame, SlacError, parse_frame

log = logging.getLogger(__name__)

MAX_QUEUED_FRAMES = 512  # SLAC has a few dozen frames in flight; a flood past this is dropped, not kept
ETHERNET_HEADER = 14
_OUTGOING = socket.PACKET_OUTGOING if hasattr(socket, "PACKET_OUTGOING") else 4


class WireClosed(ConnectionError):
    """Send or receive on an end that was closed (here, or because its interface went away)."""


class EthernetEnd(Protocol):
    @property
    def mac(self) -> bytes: ...

    def send(self, frame: bytes) -> None: ...

    async def receive(self) -> bytes: ...

    def close(self) -> None: ...


class _Inbox:
    """Received frames waiting for `receive`; closing wakes every waiter with WireClosed."""

    def __init__(self, what: str):
        self.what = what
        self.frames: collections.deque[bytes] = collections.deque()
        self.dropped = 0
        self.closed = False
        self._wakeup = asyncio.Event()

    def put(self, frame: bytes) -> None:
        if self.closed:
            return
        if len(self.frames) >= MAX_QUEUED_FRAMES:
            self.dropped += 1
            return
        self.frames.append(frame)
        self._wakeup.set()

    async def get(self) -> bytes:
        while not self.frames:
            if self.closed:
                raise WireClosed(f"{self.what} is closed")
            self._wakeup.clear()
            await self._wakeup.wait()
        return self.frames.popleft()

    def close(self) -> None:
        self.closed = True
        self.frames.clear()
        self._wakeup.set()


def _check_frame(frame: bytes) -> None:
    if len(frame) < ETHERNET_HEADER:
        raise ValueError(f"an Ethernet frame has at least {ETHERNET_HEADER} bytes, got {len(frame)}")


class MemoryEnd:
    """One end of an in-memory point-to-point cable: what one end sends, the other receives, whatever the
    destination address (one car, one charger)."""

    def __init__(self, mac: bytes):
        if len(mac) != 6:
            raise ValueError(f"a MAC address has 6 bytes, got {len(mac)}")
        self._mac = bytes(mac)
        self._inbox = _Inbox("in-memory cable")
        self._other: MemoryEnd | None = None

    @property
    def mac(self) -> bytes:
        return self._mac

    @property
    def dropped(self) -> int:
        return self._inbox.dropped

    def send(self, frame: bytes) -> None:
        if self._inbox.closed:
            raise WireClosed("in-memory cable is closed")
        _check_frame(frame)
        if self._other is not None:
            self._other._inbox.put(bytes(frame))  # a closed far end loses it, as a switched-off modem would

    async def receive(self) -> bytes:
        return await self._inbox.get()

    def close(self) -> None:
        self._inbox.close()


def memory_cable(mac_a: bytes, mac_b: bytes) -> tuple[MemoryEnd, MemoryEnd]:
    a, b = MemoryEnd(mac_a), MemoryEnd(mac_b)
    a._other, b._other = b, a
    return a, b


class RawSocketEnd:
    """An AF_PACKET socket on one interface for one ethertype, read through the running event loop.

    `open` can run on a thread that entered another network namespace: the socket stays in the namespace it
    was made in. Frames this host sent (seen by packet taps) are skipped.
    """

    def __init__(self, sock: socket.socket):
        sock.setblocking(False)
        self._sock = sock
        address = sock.getsockname()
        self.ifname: str = address[0]
        self._mac = bytes(address[4])
        self._inbox = _Inbox(f"raw socket on {self.ifname}")
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def open(cls, ifname: str, ethertype: int = ETHERTYPE_HOMEPLUG) -> RawSocketEnd:
        """Needs CAP_NET_RAW; OSError naming the interface when it cannot bind."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
        try:
            sock.bind((ifname, ethertype))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"no raw socket on {ifname!r}: {exc.strerror}") from None
        return cls(sock)

    @property
    def mac(self) -> bytes:
        return self._mac

    @property
    def dropped(self) -> int:
        return self._inbox.dropped

    def send(self, frame: bytes) -> None:
        if self._inbox.closed:
            raise WireClosed(f"raw socket on {self.ifname} is closed")
        _check_frame(frame)
        try:
            self._sock.send(frame)
        except BlockingIOError:  # the interface's queue is full: as lost on the wire, SLAC repeats
            self._inbox.dropped += 1

    async def receive(self) -> bytes:
        if self._loop is None and not self._inbox.closed:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._sock.fileno(), self._read_ready)
        return await self._inbox.get()

    def _read_ready(self) -> None:
        while True:
            try:
                frame, address = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as exc:  # interface or namespace gone
                log.warning("raw socket on %s: receive failed: %s", self.ifname, exc)
                self.close()
                return
            if address[2] != _OUTGOING:
                self._inbox.put(frame)

    def close(self) -> None:
        if self._inbox.closed:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._inbox.close()


class HomePlugReader:
    """The well-formed HomePlug frames others sent on an end, read with a deadline.

    Unparseable frames are counted in `malformed` and skipped, as are this station's own frames.
    """

    def __init__(self, end: EthernetEnd, clock: Callable[[], float] = time.monotonic):
        self.end = end
        self.clock = clock
        self.malformed = 0
        self._frames: collections.deque[HomePlugFrame] = collections.deque(maxlen=MAX_QUEUED_FRAMES)
        self._arrived = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump(), name="homeplug-reader")

    async def _pump(self) -> None:
        try:
            while True:
                raw = await self.end.receive()
                try:
                    frame = parse_frame(raw)
                except SlacError:
                    self.malformed += 1
                    continue
                if frame.source != self.end.mac:
                    self._frames.append(frame)  # full: the oldest goes, it is the least useful
                    self._arrived.set()
        except WireClosed:
            self._closed = True
            self._arrived.set()

    def clear(self) -> None:
        self._frames.clear()

    async def next(self, deadline: float | None) -> HomePlugFrame | None:
        """The next frame, or None once `deadline` (on `clock`) passed; WireClosed when the end closed."""
        while not self._frames:
            if self._closed:
                raise WireClosed("the Ethernet end closed")
            self._arrived.clear()
            timeout = None if deadline is None else deadline - self.clock()
            if timeout is not None and timeout <= 0:
                return None
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except asyncio.TimeoutError:
                if not self._frames:
                    return None
        return self._frames.popleft()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
