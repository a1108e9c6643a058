"""A cabinet that starts with SECCs but no SECC leaf gets its TLS port when the CSMS signs one, without a
restart: the next SDP request for TLS gets it, and Plug & Charge is offered to new sessions (issue #17)."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from cryptography import x509
from ocpp.v201 import call

from controller.formats.cabinet.config import OcppConfig
from controller.formats.v2g import v2gtp
from controller.v2g.late_tls import add_tls_to_running
from controller.v2g.secc_link import SeccLink, open_test_door_sockets
from controller.v2g.secc_tls import secc_tls_context
from hil.csms import CsmsSimulator
from hil.csms.secc_signing import sign_secc_csr
from hil.ev.car_tls import car_tls_context
from hil.ev.sdp_client import SdpClient, open_sdp_client_socket
from hil.ev.v2gtp_client import V2gtpClient
from hil.pki.rig_pki import rig_pki, write_secc_files
from tests.console.harness import cabinet, until
from tests.ocpp.harness import PASSWORD

pytestmark = pytest.mark.timeout(60)


async def _sdp(sdp_port: int, security: int) -> v2gtp.SdpResponse:
    client = SdpClient(open_sdp_client_socket(None), ("::1", sdp_port), security=security, interval_s=0.1,
                       attempts=10)
    try:
        return (await client.discover()).response
    finally:
        client.close()


async def _leaf_shown(port: int) -> tuple[bytes, str]:
    """The certificate the SECC shows a car that trusts the rig's V2G root, and the connection's TLS."""
    client = await V2gtpClient.connect(("::1", port), tls=car_tls_context(rig_pki().v2g_root.cert_pem()))
    try:
        return client.tls_stream._tls.getpeercert(binary_form=True), client.tls
    finally:
        await client.close()


def test_a_leaf_signed_while_running_opens_the_tls_port_at_once(tmp_path):
    async def scenario():
        csms = CsmsSimulator(password=PASSWORD)
        url = await csms.start()
        ocpp = OcppConfig(url=url, station_id="DESK-1", password=PASSWORD, response_timeout_s=5.0,
                          retry_back_off_wait_minimum_s=0.05, retry_back_off_random_range_s=0.05,
                          certificate_dir=str(tmp_path / "certs"))
        try:
            async with cabinet(tmp_path, ocpp=ocpp) as cab:
                station = cab.app.seccs[cab.connector.cfg.id]
                before = await _sdp(station.sdp_port, v2gtp.SDP_SECURITY_TLS)  # no leaf: plain TCP
                contracts_before = station.settings.contracts
                await until(lambda: csms.csrs, "the SECC leaf's CSR")
                peer = csms.peer("DESK-1")
                await peer.call(call.InstallCertificate(certificate_type="V2GRootCertificate",
                                                        certificate=rig_pki().v2g_root.cert_pem().decode()))
                signed = await peer.call(call.CertificateSigned(
                    certificate_chain=sign_secc_csr(rig_pki(), csms.csrs[0]), certificate_type="V2GCertificate"))
                await until(lambda: station.link.v2gtp.tls_port is not None, "the TLS listener")
                after = await _sdp(station.sdp_port, v2gtp.SDP_SECURITY_TLS)
                plain = await _sdp(station.sdp_port, v2gtp.SDP_SECURITY_NONE)  # a car asking for none: as before
                shown, tls = await _leaf_shown(after.port)
                leaf = x509.load_pem_x509_certificates(Path(cab.app.secc_leaf.chain_file).read_bytes())[0]
                tls_socket = station.link.sockets.tls_tcp
                result = (before, contracts_before, signed.status, after, plain, station.link.v2gtp.port, shown,
                          leaf, tls, station.settings.contracts)
            return (*result, tls_socket.fileno())
        finally:
            await csms.stop()

    before, contracts_before, signed, after, plain, tcp_port, shown, leaf, tls, contracts, closed = \
        asyncio.run(scenario())
    assert (before.port, before.security) == (tcp_port, v2gtp.SDP_SECURITY_NONE) and contracts_before is None
    assert signed == "Accepted"
    assert after.security == v2gtp.SDP_SECURITY_TLS and after.port != tcp_port
    assert (plain.port, plain.security) == (tcp_port, v2gtp.SDP_SECURITY_NONE)
    from cryptography.hazmat.primitives.serialization import Encoding
    assert shown == leaf.public_bytes(Encoding.DER)  # the leaf the CSMS just signed, chained to the V2G root
    assert tls == "TLSv1.2 ECDHE-ECDSA-AES128-SHA256"
    assert contracts is not None  # Plug & Charge for the sessions from now on
    assert closed == -1  # stop() closed the new listener


def _context(tmp_path):
    pki = rig_pki()
    files = write_secc_files(tmp_path / "leaf", pki.secc, pki.secc_chain())
    return secc_tls_context(str(files.chain), str(files.key))


class Echo:
    def __init__(self, connection):
        self.connection = connection

    async def on_message(self, payload: bytes) -> bytes:
        return payload


def test_the_test_door_opens_its_tls_listener_on_loopback_when_asked(tmp_path):
    async def main():
        sockets = open_test_door_sockets()  # no TLS at start, as a cabinet without a leaf opens them
        link = SeccLink(sockets, Echo)
        await link.start()
        try:
            assert link.v2gtp.tls_port is None
            await link.add_tls(_context(tmp_path))
            answer = await _sdp(link.sdp.port, v2gtp.SDP_SECURITY_TLS)
            shown, _ = await _leaf_shown(answer.port)
            return answer, link.v2gtp.tls_port, sockets.tls_tcp.getsockname()[0], shown
        finally:
            await link.close()

    answer, tls_port, host, shown = asyncio.run(main())
    assert (answer.port, answer.security, host) == (tls_port, v2gtp.SDP_SECURITY_TLS, "::1")
    from cryptography.hazmat.primitives.serialization import Encoding
    assert shown == rig_pki().secc.cert.public_bytes(Encoding.DER)


def test_a_listener_that_cannot_be_opened_is_logged_and_plain_tcp_stays(tmp_path, caplog):
    class Connector:
        class cfg:
            id = 2

    async def main():
        sockets = open_test_door_sockets()

        def refuse():
            raise OSError(99, "Cannot assign requested address")
        sockets.tls_opener = refuse
        link = SeccLink(sockets, Echo)

        class Station:  # what add_tls_to_running needs of a SeccStation
            id = 2

            def __init__(self):
                self.link = link
                self.settings = None

            async def add_tls(self, context, contracts):
                await link.add_tls(context)
        await link.start()
        try:
            opened = await add_tls_to_running([Station()], _context(tmp_path), object())
            answer = await _sdp(link.sdp.port, v2gtp.SDP_SECURITY_TLS)
            return opened, answer, link.v2gtp.port, link.v2gtp.tls_port
        finally:
            await link.close()

    with caplog.at_level(logging.WARNING):
        opened, answer, tcp_port, tls_port = asyncio.run(main())
    assert opened == 0 and tls_port is None
    assert (answer.port, answer.security) == (tcp_port, v2gtp.SDP_SECURITY_NONE)
    assert "connector 2: no TLS port for the new SECC leaf ([Errno 99] Cannot assign requested address)" in caplog.text
