"""SDP server (ISO 15118-2 section 7.10, DIN SPEC 70121 section 8.7.5): tells the car where the SECC listens.

The car multicasts a request (wanted security and transport) to ff02::1 port 15118 on the PLC link and
repeats it every 250 ms until answered; every request gets an answer, unicast to where it came from, with the
SECC's IPv6 address and TCP port. A request for TLS gets the TLS listener's port and security 0x00 when the
SECC has TLS; without it, and for a request without TLS, the plain port and 0x10 (a Tesla that asked for TLS
accepted "no TLS"). Malformed datagrams are counted and dropped.

On the PLC interface the socket joins ff02::1 on that interface and is tied to it (SO_BINDTODEVICE, when
allowed); in the rig's loopback mode it listens on ::1 at a configured port instead.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from typing import Callable

from controller.formats.v2g import v2gtp
from controller.v2g.ipv6_link import ALL_NODES, interface_index

log = logging.getLogger(__name__)

RequestCallback = Callable[[v2gtp.SdpRequest, tuple], None]


def open_sdp_socket(interface: str | None, *, host: str = "::1", port: int = v2gtp.SDP_PORT) -> socket.socket:
    """The server's UDP socket: on `interface` (multicast ff02::1, port `port`), or on `host` when it is None.

    Synchronous, so it can run on a thread inside another network namespace.
    """
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if interface is None:
            sock.bind((host, port))
        else:
            index = interface_index(interface)
            try:  # several connectors, one PLC interface each, all on port 15118
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            except PermissionError:
                log.warning("SDP: cannot bind to device %s without CAP_NET_RAW; filtering by scope", interface)
            sock.bind(("::", port))
            group = socket.inet_pton(socket.AF_INET6, ALL_NODES) + struct.pack("@I", index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class SdpServer:
    def __init__(self, sock: socket.socket, *, secc_address: str, secc_port: int,
                 ifindex: int = 0, on_request: RequestCallback | None = None, tls_port: int | None = None):
        """`ifindex`: the PLC interface's index (in the socket's namespace), to ignore other interfaces.
        `tls_port`: the TLS listener's port (None: no TLS, every car gets the plain port)."""
        self._sock = sock
        self._ifindex = ifindex
        self.response = v2gtp.SdpResponse(ipaddress.IPv6Address(secc_address.split("%")[0]).packed, secc_port,
                                          v2gtp.SDP_SECURITY_NONE, v2gtp.SDP_TRANSPORT_TCP)
        self.tls_response: v2gtp.SdpResponse | None = None
        self._tls_frame: bytes | None = None
        if tls_port is not None:
            self.offer_tls(tls_port)
        self.on_request = on_request
        self.requests = 0
        self.tls_requests = 0
        self.malformed = 0
        self._task: asyncio.Task | None = None

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def offer_tls(self, tls_port: int) -> None:
        """Answer requests for TLS with this port from now on (a SECC leaf that came while running)."""
        self.tls_response = v2gtp.SdpResponse(self.response.address, tls_port, v2gtp.SDP_SECURITY_TLS,
                                              v2gtp.SDP_TRANSPORT_TCP)
        self._tls_frame = self.tls_response.to_frame()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve(), name="sdp-server")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._sock.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        plain = self.response.to_frame()
        while True:
            try:
                datagram, source = await loop.sock_recvfrom(self._sock, 2048)
            except OSError as exc:
                log.warning("SDP: receive failed: %s", exc)
                await asyncio.sleep(0.1)  # e.g. the interface went down; do not spin
                continue
            request = self._parse(datagram, source)
            if request is None:
                continue
            tls = self._tls_frame  # read at every request: offer_tls may have come since the last one
            answer = tls if tls is not None and request.security == v2gtp.SDP_SECURITY_TLS else plain
            try:
                await loop.sock_sendto(self._sock, answer, source)
            except OSError as exc:
                log.warning("SDP: answer to %s failed: %s", source[0], exc)
                continue
            if self.on_request is not None:
                try:
                    self.on_request(request, source)
                except Exception:  # an observer must not stop discovery
                    log.exception("SDP: request callback failed")

    def _parse(self, datagram: bytes, source: tuple) -> v2gtp.SdpRequest | None:
        if self._ifindex and len(source) > 3 and source[3] not in (0, self._ifindex):
            return None  # another connector's PLC interface (when SO_BINDTODEVICE was refused)
        try:
            header, payload = v2gtp.parse_frame(datagram)
            if header.payload_type != v2gtp.PAYLOAD_SDP_REQUEST:
                raise v2gtp.V2gtpError(f"payload type {header.payload_type:#06x} is not an SDP request")
            request = v2gtp.SdpRequest.from_payload(payload)
        except v2gtp.V2gtpError as exc:
            self.malformed += 1
            log.info("SDP: dropping a datagram from %s: %s", source[0], exc)
            return None
        self.requests += 1
        if request.security == v2gtp.SDP_SECURITY_TLS:
            self.tls_requests += 1
        return request
