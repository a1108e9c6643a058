"""SDP client of the rig's car: ask where the SECC listens, every 250 ms, up to 50 times (as real cars do).

On the PLC link the request goes to ff02::1 port 15118 out of the car's interface; in the loopback link mode
to ::1 at the port the controller reports. The first well-formed answer wins; others are ignored.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Callable

from controller.formats.v2g import v2gtp
from hil.wires.ipv6 import ALL_NODES, interface_index, socket_address


class SdpFailed(RuntimeError):
    """No answer after every repetition."""


@dataclass(frozen=True)
class SdpAnswer:
    response: v2gtp.SdpResponse
    requests_sent: int
    round_trip_s: float  # the last request sent to the answer
    ifindex: int          # for the scope of a link-local SECC address

    @property
    def host(self) -> str:
        return str(ipaddress.IPv6Address(self.response.address))

    def secc_address(self) -> tuple[str, int, int, int]:
        """Where to connect: the SECC address with the scope of the interface the answer came from."""
        return socket_address(self.host, self.response.port, self.ifindex)


def open_sdp_client_socket(interface: str | None) -> socket.socket:
    """A UDP socket on an ephemeral port; on `interface`, multicast leaves through it and stays on the link."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        if interface is not None:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, interface_index(interface))
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
        sock.bind(("::", 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def multicast_target(interface: str, port: int = v2gtp.SDP_PORT) -> tuple[str, int, int, int]:
    return ALL_NODES, port, 0, interface_index(interface)


class SdpClient:
    def __init__(self, sock: socket.socket, target: tuple, *, security: int = v2gtp.SDP_SECURITY_NONE,
                 interval_s: float = 0.25, attempts: int = 50, clock: Callable[[], float] = time.monotonic):
        if attempts < 1 or interval_s <= 0:
            raise ValueError("SDP needs at least one attempt and a positive interval")
        self._sock = sock
        self.target = target
        self.request = v2gtp.SdpRequest(security, v2gtp.SDP_TRANSPORT_TCP)
        self.interval_s = interval_s
        self.attempts = attempts
        self.clock = clock
        self.ignored = 0  # datagrams that were not a well-formed SDP response

    async def discover(self) -> SdpAnswer:
        loop = asyncio.get_running_loop()
        frame = self.request.to_frame()
        for sent in range(1, self.attempts + 1):
            await loop.sock_sendto(self._sock, frame, self.target)
            sent_t = self.clock()
            deadline = sent_t + self.interval_s
            while (remaining := deadline - self.clock()) > 0:
                try:
                    datagram, source = await asyncio.wait_for(loop.sock_recvfrom(self._sock, 2048), remaining)
                except asyncio.TimeoutError:
                    break
                try:
                    response = v2gtp.parse_sdp(datagram)
                except v2gtp.V2gtpError:
                    response = None
                if not isinstance(response, v2gtp.SdpResponse):
                    self.ignored += 1
                    continue
                ifindex = source[3] if len(source) > 3 else 0
                return SdpAnswer(response, sent, self.clock() - sent_t, ifindex)
        raise SdpFailed(f"no SDP response to {self.attempts} requests sent every {self.interval_s * 1000:.0f} ms")

    def close(self) -> None:
        self._sock.close()
