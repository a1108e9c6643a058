"""Ethernet frame links for SLAC: a raw AF_PACKET socket on the PLC interface, or an in-process pair.

Both carry whole Ethernet frames (destination, source, ethertype, payload) and share one small interface,
`FrameLink`: `mac`, `send(frame)`, `await receive()`, `close()`. SLAC (both sides) talks only to that
interface, so the same state machines run over a real modem, a veth pair or memory. `HomePlugInbox` reads
a link as parsed HomePlug messages with deadlines, which is how both SLAC sides wait for the next message.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Callable, Protocol

from controller.formats.v2g.slac_messages import ETHERTYPE_HOMEPLUG, HomePlugFrame, SlacError, parse_frame

log = logging.getLogger(__name__)

# Frames waiting for a reader. SLAC needs at most a few dozen in flight; a flood beyond this is dropped
# rather than held in memory.
RECEIVE_QUEUE_FRAMES = 512
_MIN_FRAME = 14
_PACKET_OUTGOING = 4  # sll_pkttype of frames this host sent (seen only by ETH_P_ALL taps, filtered anyway)


class LinkClosed(ConnectionError):
    """Receive on a link that was closed (by this side, or the interface went away)."""


class FrameLink(Protocol):
    @property
    def mac(self) -> bytes: ...

    def send(self, frame: bytes) -> None: ...

    async def receive(self) -> bytes: ...

    def close(self) -> None: ...


class RawEthernetLink:
    """An AF_PACKET SOCK_RAW socket bound to one interface and one ethertype, read through the event loop.

    Create the socket with `open()` (which may run on a thread inside another network namespace: the socket
    stays in the namespace it was created in) and hand it over; the reader is attached to the running loop
    on the first `receive()`.
    """

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._sock.setblocking(False)
        self.ifname: str = sock.getsockname()[0]
        self._mac = bytes(sock.getsockname()[4])
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(RECEIVE_QUEUE_FRAMES)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.dropped = 0

    @classmethod
    def open(cls, ifname: str, ethertype: int = ETHERTYPE_HOMEPLUG) -> RawEthernetLink:
        """Needs CAP_NET_RAW. OSError (e.g. no such device, permission denied) with the interface named."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
        try:
            sock.bind((ifname, ethertype))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot bind a raw socket to {ifname!r}: {exc.strerror}") from None
        return cls(sock)

    @property
    def mac(self) -> bytes:
        return self._mac

    def send(self, frame: bytes) -> None:
        if self._closed:
            raise LinkClosed(f"raw link on {self.ifname} is closed")
        if len(frame) < _MIN_FRAME:
            raise ValueError(f"an Ethernet frame needs at least {_MIN_FRAME} bytes, got {len(frame)}")
        try:
            self._sock.send(frame)
        except BlockingIOError:
            # The driver queue is full; SLAC retransmits, so a lost frame is no worse than on the cable.
            self.dropped += 1
            log.warning("raw link %s: send queue full, frame dropped", self.ifname)

    async def receive(self) -> bytes:
        if self._loop is None and not self._closed:
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._sock.fileno(), self._readable)
        if self._closed and self._queue.empty():
            raise LinkClosed(f"raw link on {self.ifname} is closed")
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)  # wake every other waiter too
            raise LinkClosed(f"raw link on {self.ifname} is closed")
        return frame

    def _readable(self) -> None:
        while True:
            try:
                frame, address = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError as exc:  # the interface went away under us (namespace deleted, device removed)
                log.warning("raw link %s: receive failed: %s", self.ifname, exc)
                self.close()
                return
            if address[2] == _PACKET_OUTGOING:
                continue
            if self._queue.full():
                self.dropped += 1
                continue
            self._queue.put_nowait(frame)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._wake_readers()

    def _wake_readers(self) -> None:
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class MemoryLink:
    """One end of an in-process cable: every frame sent on one end arrives at the other, whatever its
    destination address (a point-to-point link, like the PLC between one car and one charger)."""

    def __init__(self, mac: bytes):
        if len(mac) != 6:
            raise ValueError(f"a MAC address is 6 bytes, got {len(mac)}")
        self._mac = bytes(mac)
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(RECEIVE_QUEUE_FRAMES)
        self._peer: MemoryLink | None = None
        self._closed = False
        self.dropped = 0

    @staticmethod
    def pair(mac_a: bytes, mac_b: bytes) -> tuple[MemoryLink, MemoryLink]:
        a, b = MemoryLink(mac_a), MemoryLink(mac_b)
        a._peer, b._peer = b, a
        return a, b

    @property
    def mac(self) -> bytes:
        return self._mac

    def send(self, frame: bytes) -> None:
        if self._closed:
            raise LinkClosed("memory link is closed")
        if len(frame) < _MIN_FRAME:
            raise ValueError(f"an Ethernet frame needs at least {_MIN_FRAME} bytes, got {len(frame)}")
        if self._peer is not None:
            self._peer._deliver(bytes(frame))

    def _deliver(self, frame: bytes) -> None:
        if self._closed:
            return  # a cable into a switched-off modem
        if self._queue.full():
            self.dropped += 1
            return
        self._queue.put_nowait(frame)

    async def receive(self) -> bytes:
        if self._closed and self._queue.empty():
            raise LinkClosed("memory link is closed")
        frame = await self._queue.get()
        if frame is None:
            self._queue.put_nowait(None)
            raise LinkClosed("memory link is closed")
        return frame

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)


class HomePlugInbox:
    """Parsed HomePlug frames from a link, in arrival order, read with a deadline.

    Frames this station sent and frames that do not parse are dropped here (the count of the latter is kept),
    so the SLAC state machines see only well-formed messages from others.
    """

    def __init__(self, link: FrameLink, clock: Callable[[], float] = time.monotonic):
        self.link = link
        self.clock = clock
        self.malformed = 0
        self._queue: asyncio.Queue[HomePlugFrame | None] = asyncio.Queue(RECEIVE_QUEUE_FRAMES)
        self._task: asyncio.Task | None = None
        self._closed = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._read(), name="homeplug-inbox")

    async def _read(self) -> None:
        try:
            while True:
                raw = await self.link.receive()
                try:
                    frame = parse_frame(raw)
                except SlacError as exc:
                    self.malformed += 1
                    log.debug("dropping a malformed HomePlug frame: %s", exc)
                    continue
                if frame.source == self.link.mac:
                    continue
                if self._queue.full():
                    self._queue.get_nowait()  # the oldest frame is the least useful one
                self._queue.put_nowait(frame)
        except LinkClosed:
            self._closed = True
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    def clear(self) -> None:
        while not self._queue.empty():
            if self._queue.get_nowait() is None:
                self._queue.put_nowait(None)
                return

    async def next(self, deadline: float | None) -> HomePlugFrame | None:
        """The next frame, or None when `deadline` (on `clock`) passes first. LinkClosed once the link is gone."""
        if self._closed and self._queue.empty():
            raise LinkClosed("the frame link closed")
        timeout = None if deadline is None else max(0.0, deadline - self.clock())
        try:
            frame = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if frame is None:
            self._queue.put_nowait(None)
            raise LinkClosed("the frame link closed")
        return frame

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
