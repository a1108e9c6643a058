"""The SECC's link layer for one connector: SLAC on the PLC frames, SDP pointing at the V2GTP server.

Sockets are opened first, by `open_secc_sockets` (synchronous, so it can run where the PLC interface lives:
the process's own network namespace on a charger, a thread inside the rig's SECC namespace in the veth mode);
`SeccLink` then runs the three services on them in the event loop. The connector drives it: `plugged()`
on CP B with 5 % PWM starts SLAC with a new network key, `unplugged()` ends SLAC and the V2G session
(both synchronous, for the connector's state-entry actions).
"""
from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass, field
from typing import Callable

from controller.formats.v2g import v2gtp
from controller.v2g.ethernet import FrameLink, RawEthernetLink
from controller.v2g.ipv6_link import interface_index, link_local_address
from controller.v2g.sdp import SdpServer, open_sdp_socket
from controller.v2g.slac import SlacEvse, SlacTimers, StateCallback
from controller.v2g.v2gtp_server import (SEQUENCE_TIMEOUT_S, Exchange, MessageHandler, V2gtpConnection,
                                         V2gtpServer, open_v2gtp_socket)

log = logging.getLogger(__name__)

LOOPBACK_HOST = "::1"


@dataclass
class SeccLinkSockets:
    frames: FrameLink | None  # SLAC frames: a raw socket on the PLC interface, an in-process link; None: test door
    sdp: socket.socket
    tcp: socket.socket      # listening
    address: str            # the SECC's IPv6 address as SDP tells it to the car
    ifindex: int            # the PLC interface's index; 0 on loopback
    tls_tcp: socket.socket | None = None  # listening, for cars that ask for TLS; None: not opened
    # A SECC leaf signed while running (OCPP) needs a TLS listener then: opened where these sockets live
    # (`tls_opener`), or the one opened with them and kept unannounced for it (`spare_tls`).
    tls_opener: Callable[[], socket.socket] | None = field(default=None, repr=False)
    spare_tls: socket.socket | None = None

    def open_tls(self) -> socket.socket:
        """A TLS listener for a leaf that came after the start; OSError (with its reason) when none can be had."""
        if self.spare_tls is not None:
            sock, self.spare_tls = self.spare_tls, None
            return sock
        if self.tls_opener is None:
            raise OSError("these sockets were handed over without a TLS listener and no way to open one")
        return self.tls_opener()

    def close(self) -> None:
        if self.frames is not None:
            self.frames.close()
        self.sdp.close()
        self.tcp.close()
        if self.tls_tcp is not None:
            self.tls_tcp.close()
        if self.spare_tls is not None:
            self.spare_tls.close()


def open_secc_sockets(interface: str | None, *, frames: FrameLink | None = None, sdp_port: int = v2gtp.SDP_PORT,
                      tcp_port: int = 0, tls: bool = False) -> SeccLinkSockets:
    """On `interface`: a raw SLAC socket, SDP on ff02::1 port `sdp_port`, TCP on the link-local address.
    With `interface` None (the rig's loopback mode): SLAC on `frames`, SDP and TCP on ::1.
    `tls`: a second TCP listener (a free dynamic port) for TLS."""
    if interface is None and frames is None:
        raise ValueError("the loopback link needs an in-process frame link for SLAC")
    opened: list = []
    try:
        if frames is None:
            frames = RawEthernetLink.open(interface)
            opened.append(frames)
        sdp = open_sdp_socket(interface, host=LOOPBACK_HOST, port=sdp_port)
        opened.append(sdp)
        tcp = open_v2gtp_socket(interface, host=LOOPBACK_HOST, port=tcp_port)
        opened.append(tcp)
        tls_tcp = open_v2gtp_socket(interface, host=LOOPBACK_HOST) if tls else None
        if tls_tcp is not None:
            opened.append(tls_tcp)
        def tls_opener() -> socket.socket:  # where this call runs: a later call must run in the same namespace
            return open_v2gtp_socket(interface, host=LOOPBACK_HOST)
        if interface is None:
            return SeccLinkSockets(frames, sdp, tcp, LOOPBACK_HOST, 0, tls_tcp, tls_opener)
        return SeccLinkSockets(frames, sdp, tcp, link_local_address(interface), interface_index(interface), tls_tcp,
                               tls_opener)
    except BaseException:
        for thing in opened:
            thing.close()
        raise


def open_test_door_sockets(*, sdp_port: int = 0, tcp_port: int = 0, tls: bool = False) -> SeccLinkSockets:
    """The test door ([v2g] test_door_direct_tcp): SDP and TCP on ::1 only, and no SLAC (no frames), for a rig
    whose car has no powerline into this process. Never on a charger: a car must match over SLAC first."""
    sdp = open_sdp_socket(None, host=LOOPBACK_HOST, port=sdp_port)
    tcp = None
    try:
        tcp = open_v2gtp_socket(None, host=LOOPBACK_HOST, port=tcp_port)
        tls_tcp = open_v2gtp_socket(None, host=LOOPBACK_HOST) if tls else None
    except BaseException:
        sdp.close()
        if tcp is not None:
            tcp.close()
        raise
    return SeccLinkSockets(None, sdp, tcp, LOOPBACK_HOST, 0, tls_tcp,
                           lambda: open_v2gtp_socket(None, host=LOOPBACK_HOST))


class SeccLink:
    def __init__(self, sockets: SeccLinkSockets, handler_factory: Callable[[V2gtpConnection], MessageHandler], *,
                 slac_timers: SlacTimers = SlacTimers(), idle_timeout_s: float | None = SEQUENCE_TIMEOUT_S,
                 on_slac_state: StateCallback | None = None,
                 on_open: Callable[[V2gtpConnection], None] | None = None,
                 on_close: Callable[[V2gtpConnection, str], None] | None = None,
                 on_exchange: Callable[[V2gtpConnection, Exchange], None] | None = None,
                 name: str = "secc", tls_context: ssl.SSLContext | None = None):
        """`tls_context`: serve TLS on the sockets' TLS listener (without one, that listener is closed)."""
        self.sockets = sockets
        if tls_context is None and sockets.tls_tcp is not None:
            # opened where the link lives (the rig's namespace), but no leaf yet: kept unannounced for one
            # signed later (`add_tls`), as this process may not be able to open one there
            sockets.spare_tls, sockets.tls_tcp = sockets.tls_tcp, None
        if tls_context is not None and sockets.tls_tcp is None:
            raise ValueError("TLS is configured but no TLS listener was opened")
        # no frames: the test door, where SDP on ::1 stands in for a matched link
        self.slac = SlacEvse(sockets.frames, timers=slac_timers, name=f"{name}-slac") \
            if sockets.frames is not None else None
        if on_slac_state is not None and self.slac is not None:
            self.slac.on_state(on_slac_state)
        self.v2gtp = V2gtpServer(sockets.tcp, handler_factory, idle_timeout_s=idle_timeout_s,
                                 on_open=on_open, on_close=on_close, on_exchange=on_exchange,
                                 tls_sock=sockets.tls_tcp, tls_context=tls_context)
        self._closed = False
        self.sdp = SdpServer(sockets.sdp, secc_address=sockets.address, secc_port=self.v2gtp.port,
                             ifindex=sockets.ifindex, on_request=self._sdp_request, tls_port=self.v2gtp.tls_port)

    async def start(self) -> None:
        """SDP and V2GTP listen from now on; SLAC waits for `plugged()`."""
        await self.v2gtp.start()
        self.sdp.start()

    async def add_tls(self, tls_context: ssl.SSLContext) -> None:
        """TLS from the next SDP request on (a SECC leaf signed while running); a connection already open
        keeps what it has. OSError/ValueError when no listener can be opened: plain TCP stays as it was."""
        if self._closed or self.v2gtp.tls_port is not None:
            return
        sock = self.sockets.open_tls()
        try:
            await self.v2gtp.add_tls(sock, tls_context)
        except BaseException:
            sock.close()
            raise
        self.sockets.tls_tcp = sock  # closed with the others
        self.sdp.offer_tls(self.v2gtp.tls_port)

    def _sdp_request(self, request, source) -> None:
        if self.slac is not None:
            self.slac.link_up()

    def plugged(self) -> None:
        if self.slac is not None:
            self.slac.start()

    def unplugged(self) -> None:
        if self.slac is not None:
            self.slac.stop()
        if self.v2gtp.connection is not None:
            self.v2gtp.connection.close("unplugged")

    async def close(self) -> None:
        self._closed = True
        if self.slac is not None:
            await self.slac.close()
        await self.v2gtp.close()
        await self.sdp.close()
        self.sockets.close()
