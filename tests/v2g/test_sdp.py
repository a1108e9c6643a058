"""SDP: the controller's server and the rig car's client, on ::1 and as real multicast over a veth pair."""
from __future__ import annotations

import asyncio
import socket

import pytest

from controller.formats.v2g import v2gtp
from controller.v2g.ipv6_link import interface_index, link_local_address
from controller.v2g.sdp import SdpServer, open_sdp_socket
from hil.ev.sdp_client import SdpClient, SdpFailed, multicast_target, open_sdp_client_socket
from hil.link.netns import PLC_INTERFACE, run_in_netns
from tests.v2g.veth_fixture import veth  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(30)
TCP_PORT = 61234


def _loopback_server(**kwargs) -> SdpServer:
    return SdpServer(open_sdp_socket(None, host="::1", port=0), secc_address="::1", secc_port=TCP_PORT, **kwargs)


def test_a_request_on_loopback_gets_the_secc_address_and_port():
    async def main():
        server = _loopback_server()
        server.start()
        client = SdpClient(open_sdp_client_socket(None), ("::1", server.port), interval_s=0.1, attempts=5)
        try:
            answer = await client.discover()
        finally:
            client.close()
            await server.close()
        assert answer.host == "::1" and answer.response.port == TCP_PORT and answer.requests_sent == 1
        assert answer.response.security == v2gtp.SDP_SECURITY_NONE
        assert answer.response.transport == v2gtp.SDP_TRANSPORT_TCP
        assert answer.secc_address() == ("::1", TCP_PORT, 0, 0)
    asyncio.run(main())


def test_a_request_for_tls_is_answered_without_tls():
    async def main():
        seen = []
        server = _loopback_server(on_request=lambda request, source: seen.append(request))
        server.start()
        client = SdpClient(open_sdp_client_socket(None), ("::1", server.port),
                           security=v2gtp.SDP_SECURITY_TLS, interval_s=0.1, attempts=5)
        try:
            answer = await client.discover()
        finally:
            client.close()
            await server.close()
        assert answer.response.security == v2gtp.SDP_SECURITY_NONE
        assert server.tls_requests == 1 and seen == [v2gtp.SdpRequest(v2gtp.SDP_SECURITY_TLS)]
    asyncio.run(main())


async def _answers(sock: socket.socket, expected: int, wait_s: float = 0.3) -> list[bytes]:
    loop = asyncio.get_running_loop()
    got = []
    try:
        while len(got) < expected + 1:
            got.append((await asyncio.wait_for(loop.sock_recvfrom(sock, 2048), wait_s))[0])
    except asyncio.TimeoutError:
        pass
    return got


def test_repeated_requests_each_get_an_answer_and_garbage_gets_none():
    async def main():
        server = _loopback_server()
        server.start()
        loop = asyncio.get_running_loop()
        sock = open_sdp_client_socket(None)
        target = ("::1", server.port)
        try:
            for datagram in (b"\x01\xfe\x90\x00", v2gtp.build_frame(v2gtp.PAYLOAD_SDP_REQUEST, b"\x10"),
                             v2gtp.build_frame(v2gtp.PAYLOAD_EXI, b"\x10\x00"), b"\x02\xfd" + bytes(8)):
                await loop.sock_sendto(sock, datagram, target)
            assert await _answers(sock, 0, 0.1) == []
            for _ in range(3):
                await loop.sock_sendto(sock, v2gtp.SdpRequest().to_frame(), target)
            answers = await _answers(sock, 3)
        finally:
            sock.close()
            await server.close()
        assert len(answers) == 3 and all(v2gtp.parse_sdp(a) == server.response for a in answers)
        assert server.requests == 3 and server.malformed == 4
    asyncio.run(main())


def test_the_client_gives_up_after_its_attempts_and_skips_garbage_answers():
    async def main():
        loop = asyncio.get_running_loop()
        silent = open_sdp_socket(None, host="::1", port=0)  # answers only with garbage
        client = SdpClient(open_sdp_client_socket(None), ("::1", silent.getsockname()[1]), interval_s=0.03,
                           attempts=4)

        async def garbage() -> int:
            count = 0
            while True:
                _, source = await loop.sock_recvfrom(silent, 2048)
                count += 1
                await loop.sock_sendto(silent, b"\x01\xfe\x90\x01\x00\x00\x00\x01x", source)
        task = asyncio.create_task(garbage())
        try:
            with pytest.raises(SdpFailed, match="4 requests"):
                await client.discover()
        finally:
            task.cancel()
            client.close()
            silent.close()
        assert client.ignored == 4
    asyncio.run(main())


def test_multicast_discovery_over_a_veth_pair(veth):
    async def main():
        secc_address = await run_in_netns(veth.secc_ns, lambda: link_local_address(PLC_INTERFACE))
        secc_index = await run_in_netns(veth.secc_ns, lambda: interface_index(PLC_INTERFACE))
        server_sock = await run_in_netns(veth.secc_ns, lambda: open_sdp_socket(PLC_INTERFACE))
        sources = []
        server = SdpServer(server_sock, secc_address=secc_address, secc_port=TCP_PORT, ifindex=secc_index,
                           on_request=lambda request, source: sources.append(source))
        server.start()
        client_sock = await run_in_netns(veth.ev_ns, lambda: open_sdp_client_socket(PLC_INTERFACE))
        target = await run_in_netns(veth.ev_ns, lambda: multicast_target(PLC_INTERFACE))
        ev_address = await run_in_netns(veth.ev_ns, lambda: link_local_address(PLC_INTERFACE))
        client = SdpClient(client_sock, target, security=v2gtp.SDP_SECURITY_TLS, interval_s=0.25, attempts=8)
        try:
            answer = await client.discover()
        finally:
            client.close()
            await server.close()
        assert answer.host == secc_address and answer.host.startswith("fe80:")
        assert answer.response.security == v2gtp.SDP_SECURITY_NONE
        assert answer.secc_address() == (secc_address, TCP_PORT, 0, target[3])
        assert sources[0][0] == ev_address and sources[0][3] == secc_index
    asyncio.run(main())
