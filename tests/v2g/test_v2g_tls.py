"""TLS on the V2GTP port: the SECC's context and listener, the SDP answer, the rig car's chain check."""
from __future__ import annotations

import asyncio
import os
import ssl

import pytest

from controller.formats.cabinet.loader import ConfigError
from controller.formats.v2g import v2gtp
from controller.v2g.sdp import SdpServer, open_sdp_socket
from controller.v2g.secc_tls import secc_tls_context
from controller.v2g.v2gtp_server import V2gtpServer, open_v2gtp_socket
from hil.ev.car_tls import car_tls_context
from hil.ev.sdp_client import SdpClient, open_sdp_client_socket
from hil.ev.v2gtp_client import V2gtpClient, V2gtpClientError, V2gtpUntrusted
from hil.pki.rig_pki import broken_secc, rig_pki, write_secc_files

pytestmark = pytest.mark.timeout(30)


def _secc_context(tmp_path, variant: str | None = None, **options) -> ssl.SSLContext:
    pki = rig_pki()
    leaf, chain = (pki.secc, pki.secc_chain()) if variant is None else broken_secc(variant)
    files = write_secc_files(tmp_path / (variant or "good"), leaf, chain)
    return secc_tls_context(str(files.chain), str(files.key), **options)


def _car_context(**options) -> ssl.SSLContext:
    return car_tls_context(rig_pki().v2g_root.cert_pem(), **options)


class Echo:
    def __init__(self, connection):
        self.connection = connection

    async def on_message(self, payload: bytes) -> bytes:
        return payload


async def _failed_handshake(server: V2gtpServer) -> None:
    """The failure reaches the SECC's accept task a moment after the car gave up (bounded wait)."""
    for _ in range(200):
        if server.tls_failures:
            return
        await asyncio.sleep(0.01)


async def _tls_server(context: ssl.SSLContext, opened: list) -> V2gtpServer:
    server = V2gtpServer(open_v2gtp_socket(None), Echo, tls_sock=open_v2gtp_socket(None), tls_context=context,
                         on_open=opened.append)
    await server.start()
    return server


def test_a_car_trusting_the_v2g_root_talks_tls12_with_the_iso2_suite(tmp_path):
    async def main():
        opened: list = []
        server = await _tls_server(_secc_context(tmp_path), opened)
        try:
            client = await V2gtpClient.connect(("::1", server.tls_port), tls=_car_context())
            assert await client.request(b"\x80\x01") == b"\x80\x01"
            presented = client.tls_stream._tls.getpeercert(binary_form=True)
            await client.close()
            plain = await V2gtpClient.connect(("::1", server.port))  # plain TCP still served
            assert await plain.request(b"\x80\x02") == b"\x80\x02"
            await plain.close()
        finally:
            await server.close()
        assert presented == rig_pki().secc.cert.public_bytes(ssl_encoding())
        assert [c.tls for c in opened] == ["TLSv1.2 ECDHE-ECDSA-AES128-SHA256", ""]
    asyncio.run(main())


def ssl_encoding():
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.DER


@pytest.mark.parametrize("variant, reason, alert", [
    ("untrusted", "unable to get local issuer certificate", "TLSV1_ALERT_UNKNOWN_CA"),
    ("expired", "certificate has expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED")])
def test_the_car_refuses_a_station_it_cannot_trust_and_the_station_logs_why(tmp_path, caplog, variant, reason,
                                                                            alert):
    async def main():
        opened: list = []
        server = await _tls_server(_secc_context(tmp_path, variant), opened)
        try:
            with pytest.raises(V2gtpUntrusted, match=reason):
                await V2gtpClient.connect(("::1", server.tls_port), tls=_car_context())
            await _failed_handshake(server)
        finally:
            await server.close()
        assert opened == []  # no session: the handshake never finished
        # the rig's car sends its alert before it closes: the SECC names what the car objected to
        assert (server.tls_failures, server.last_tls_failure) == (1, alert)
    asyncio.run(main())
    assert f"TLS handshake with ::1 failed: {alert}" in caplog.text


def test_a_client_without_the_iso2_suite_gets_no_session(tmp_path):
    async def main():
        opened: list = []
        server = await _tls_server(_secc_context(tmp_path), opened)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_3  # the SECC speaks TLS 1.2 only
        try:
            with pytest.raises(V2gtpClientError):
                await V2gtpClient.connect(("::1", server.tls_port), tls=context)
            await _failed_handshake(server)
        finally:
            await server.close()
        assert opened == []
        assert server.tls_failures == 1 and server.last_tls_failure == "UNSUPPORTED_PROTOCOL"  # OpenSSL's reason
    asyncio.run(main())


def test_the_key_log_lets_a_capture_be_decrypted(tmp_path):
    key_log = tmp_path / "keys.log"

    async def main():
        server = await _tls_server(_secc_context(tmp_path, key_log=str(key_log)), [])
        try:
            client = await V2gtpClient.connect(("::1", server.tls_port), tls=_car_context())
            await client.request(b"\x80")
            await client.close()
        finally:
            await server.close()
    asyncio.run(main())
    lines = [line for line in key_log.read_text().splitlines() if line and not line.startswith("#")]
    assert lines and all(line.startswith("CLIENT_RANDOM ") and len(line.split()) == 3 for line in lines)


def _sdp_answer(server: SdpServer, security: int) -> v2gtp.SdpResponse:
    async def main():
        server.start()
        client = SdpClient(open_sdp_client_socket(None), ("::1", server.port), security=security,
                           interval_s=0.1, attempts=5)
        try:
            return (await client.discover()).response
        finally:
            client.close()
            await server.close()
    return asyncio.run(main())


@pytest.mark.parametrize("tls_port, asked, port, security", [
    (61235, v2gtp.SDP_SECURITY_TLS, 61235, v2gtp.SDP_SECURITY_TLS),
    (61235, v2gtp.SDP_SECURITY_NONE, 61234, v2gtp.SDP_SECURITY_NONE),
    (None, v2gtp.SDP_SECURITY_TLS, 61234, v2gtp.SDP_SECURITY_NONE),
])
def test_the_sdp_answer_says_tls_only_to_a_car_that_asked_and_only_when_the_secc_has_it(tls_port, asked, port,
                                                                                      security):
    server = SdpServer(open_sdp_socket(None, host="::1", port=0), secc_address="::1", secc_port=61234,
                       tls_port=tls_port)
    response = _sdp_answer(server, asked)
    assert (response.port, response.security) == (port, security)


def test_a_key_file_others_can_read_is_refused_in_one_line(tmp_path):
    pki = rig_pki()
    files = write_secc_files(tmp_path, pki.secc, pki.secc_chain())
    os.chmod(files.key, 0o640)
    with pytest.raises(ConfigError) as caught:
        secc_tls_context(str(files.chain), str(files.key))
    assert caught.value.key == "v2g.tls.key" and "mode 0600, is 0640" in caught.value.reason
    assert "\n" not in str(caught.value)


def test_a_key_that_is_not_the_leafs_is_refused_without_showing_it(tmp_path):
    pki = rig_pki()
    files = write_secc_files(tmp_path, pki.cpo_sub2, pki.secc_chain())  # sub-CA 2's key, the leaf's chain
    with pytest.raises(ConfigError) as caught:
        secc_tls_context(str(files.chain), str(files.key))
    assert caught.value.key == "v2g.tls.key" and "is not the private key of the leaf" in caught.value.reason
    assert "PRIVATE KEY" not in str(caught.value)


@pytest.mark.parametrize("content, reason", [(b"", "holds no PEM certificate"), (None, "cannot read")])
def test_an_unusable_chain_file_is_named(tmp_path, content, reason):
    pki = rig_pki()
    files = write_secc_files(tmp_path, pki.secc, pki.secc_chain())
    if content is None:
        files.chain.unlink()
    else:
        files.chain.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        secc_tls_context(str(files.chain), str(files.key))
    assert caught.value.key == "v2g.tls.cert_chain" and reason in caught.value.reason


# key_log and mo_roots without a leaf file are checked with the whole cabinet (test_contract_validation):
# they are fine when [ocpp] can bring a leaf signed by the CSMS.
@pytest.mark.parametrize("table, key", [({"cert_chain": "chain.pem"}, "v2g.tls.key"),
                                        ({"key": "key.pem"}, "v2g.tls.cert_chain")])
def test_the_tls_table_needs_chain_and_key_together(table, key):
    from controller.formats.cabinet.config import V2gConfig
    from controller.formats.cabinet.loader import build
    with pytest.raises(ConfigError) as caught:
        build(V2gConfig, {"tls": table}, "v2g")
    assert caught.value.key == key


def test_a_tls_car_that_vanishes_does_not_hold_the_secc_for_the_tls_close(tmp_path):
    """Closing a TLS connection waits for the car's close_notify; a car that is gone never sends it. The
    SECC cuts the connection after CLOSE_WAIT_S, so a reconnecting car is served at once, not after 30 s."""
    from controller.v2g.v2gtp_server import CLOSE_WAIT_S

    async def main():
        opened: list = []
        server = await _tls_server(_secc_context(tmp_path), opened)
        try:
            silent = await V2gtpClient.connect(("::1", server.tls_port), tls=_car_context())
            assert await silent.request(b"\x80\x01") == b"\x80\x01"  # then it reads nothing more, ever
            started = asyncio.get_running_loop().time()
            again = await V2gtpClient.connect(("::1", server.tls_port), tls=_car_context())
            assert await again.request(b"\x80\x02") == b"\x80\x02"
            waited = asyncio.get_running_loop().time() - started
            await again.close()
        finally:
            await server.close()
        assert len(opened) == 2 and opened[0].close_reason == "replaced by a new connection"
        assert waited < CLOSE_WAIT_S + 1.0
    asyncio.run(main())
