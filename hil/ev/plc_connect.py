"""How the rig's car gets from plug-in to a V2GTP connection: SLAC, then SDP, then TCP.

Works on either link mode's car end (`hil.link.modes.EvEnd`): its sockets are opened where that end lives.
Without a powerline into the controller's process (a separate or external controller on loopback, whose
`[v2g] test_door_direct_tcp` is open) the car skips SLAC: SDP goes to the SECC's port on ::1, then TCP.
"""
from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field

from controller.formats.v2g import v2gtp
from hil.ev.process_stalls import StallMeter
from hil.ev.sdp_client import SdpAnswer, SdpClient, open_sdp_client_socket
from hil.ev.slac_ev import EvSlacPlan, EvSlacResult, EvSlacTimers, SlacEv
from hil.ev.v2gtp_client import REQUEST_TIMEOUT_S, V2gtpClient, V2gtpUntrusted, new_tcp_socket
from hil.link.modes import EvEnd


@dataclass(frozen=True)
class EvLinkPlan:
    slac: EvSlacPlan = field(default_factory=EvSlacPlan)
    slac_timers: EvSlacTimers = field(default_factory=EvSlacTimers)
    sdp_security: int = v2gtp.SDP_SECURITY_NONE
    sdp_interval_s: float = 0.25
    sdp_attempts: int = 50
    connect_timeout_s: float = REQUEST_TIMEOUT_S
    tls: ssl.SSLContext | None = None  # the car's TLS client (its V2G roots), used when SDP answers TLS
    stalls: StallMeter | None = None  # the car's stall meter: the TCP and TLS connect waits move by its stalls


@dataclass
class EvV2gConnection:
    client: V2gtpClient
    slac: EvSlacResult | None  # None: no powerline (the test door)
    sdp: SdpAnswer
    slac_s: float
    sdp_s: float
    connect_s: float

    async def close(self) -> None:
        await self.client.close()


async def connect_over_plc(end: EvEnd, *, sdp_port: int = v2gtp.SDP_PORT,
                           plan: EvLinkPlan = EvLinkPlan()) -> EvV2gConnection:
    """Match, discover and connect. Raises SlacEvFailed, SdpFailed or V2gtpClientError with the reason.
    `sdp_port`: the SECC's SDP port (15118; in the loopback mode the port its SDP server reports)."""
    if end.frames is None:
        raise ValueError("the car's end of the link is not open")
    t0 = time.monotonic()
    slac = await SlacEv(end.frames, timers=plan.slac_timers, plan=plan.slac).match()
    t1 = time.monotonic()
    interface = end.interface
    sock = await end.run(lambda: open_sdp_client_socket(interface))
    client = SdpClient(sock, await end.sdp_target(sdp_port), security=plan.sdp_security,
                       interval_s=plan.sdp_interval_s, attempts=plan.sdp_attempts)
    try:
        answer = await client.discover()
    finally:
        client.close()
    t2 = time.monotonic()
    tcp = await end.run(new_tcp_socket)
    connection = await V2gtpClient.connect(answer.secc_address(), sock=tcp, timeout_s=plan.connect_timeout_s,
                                           tls=_tls_for(answer, plan), stalls=plan.stalls)
    return EvV2gConnection(connection, slac, answer, t1 - t0, t2 - t1, time.monotonic() - t2)


def _tls_for(answer: SdpAnswer, plan: EvLinkPlan) -> ssl.SSLContext | None:
    """TLS when the SECC answered TLS; a car that holds no V2G root cannot check the station, so it refuses."""
    if answer.response.security != v2gtp.SDP_SECURITY_TLS:
        return None
    if plan.tls is None:
        raise V2gtpUntrusted("refused the station's certificate: the SECC answered TLS and the car holds no "
                             "V2G root")
    return plan.tls


async def connect_direct(sdp_target: tuple[str, int], *, plan: EvLinkPlan = EvLinkPlan()) -> EvV2gConnection:
    """SDP to `sdp_target` (a SECC's test door on loopback), then TCP; no SLAC. Raises SdpFailed or
    V2gtpClientError with the reason."""
    t0 = time.monotonic()
    client = SdpClient(open_sdp_client_socket(None), sdp_target, security=plan.sdp_security,
                       interval_s=plan.sdp_interval_s, attempts=plan.sdp_attempts)
    try:
        answer = await client.discover()
    finally:
        client.close()
    t1 = time.monotonic()
    connection = await V2gtpClient.connect(answer.secc_address(), sock=new_tcp_socket(),
                                           timeout_s=plan.connect_timeout_s, tls=_tls_for(answer, plan),
                                           stalls=plan.stalls)
    return EvV2gConnection(connection, None, answer, 0.0, t1 - t0, time.monotonic() - t1)
