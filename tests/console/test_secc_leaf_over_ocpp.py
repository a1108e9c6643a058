"""The desk cabinet with OCPP and no SECC leaf: at start it asks the CSMS for one (SignCertificate
V2GCertificate); the signed leaf is installed, listed by `certs`, and serves TLS from the next start on
(issue #17)."""
from __future__ import annotations

import asyncio

import pytest
from ocpp.v201 import call

from controller.formats.cabinet.config import OcppConfig
from hil.csms import CsmsSimulator
from hil.csms.secc_signing import sign_secc_csr
from hil.pki.rig_pki import rig_pki
from tests.console.harness import ask, cabinet, connect, until
from tests.ocpp.harness import PASSWORD

pytestmark = pytest.mark.timeout(60)


def test_without_a_secc_leaf_the_station_asks_for_one_at_start_and_installs_it(tmp_path):
    async def scenario():
        csms = CsmsSimulator(password=PASSWORD)
        url = await csms.start()
        ocpp = OcppConfig(url=url, station_id="DESK-1", password=PASSWORD, response_timeout_s=5.0,
                          retry_back_off_wait_minimum_s=0.05, retry_back_off_random_range_s=0.05,
                          certificate_dir=str(tmp_path / "certs"))
        try:
            async with cabinet(tmp_path, ocpp=ocpp) as cab:
                await until(lambda: csms.csrs, "the SECC leaf's CSR")
                asked = csms.calls("SignCertificate")
                peer = csms.peer("DESK-1")
                root = await peer.call(call.InstallCertificate(certificate_type="V2GRootCertificate",
                                                               certificate=rig_pki().v2g_root.cert_pem().decode()))
                signed = await peer.call(call.CertificateSigned(certificate_chain=sign_secc_csr(rig_pki(), csrs[0])
                                                                if (csrs := csms.csrs) else "",
                                                                certificate_type="V2GCertificate"))
                client = await connect(cab.path)
                try:
                    certs = await ask(client, "certs")
                finally:
                    client.close()
                first = (asked, root.status, signed.status, cab.app.secc_leaf, certs)
            statuses = len(csms.calls("StatusNotification"))
            async with cabinet(tmp_path, ocpp=ocpp) as again:  # the next start: the signed leaf serves TLS
                # a StatusNotification after the new boot: the worker's certificate requests went before it
                await until(lambda: len(csms.calls("StatusNotification")) > statuses, "the station's statuses again")
                return (*first, again.app.secc_leaf.chain_file, again.app._secc_tls is not None,
                        len(csms.calls("SignCertificate")))
        finally:
            await csms.stop()

    asked, root, signed, leaf, certs, next_leaf, next_tls, csrs = asyncio.run(scenario())
    assert next_leaf.endswith("secc.pem") and next_tls and csrs == 1  # not asked for again
    assert [a["certificateType"] for a in asked] == ["V2GCertificate"]
    assert (root, signed) == ("Accepted", "Accepted")
    assert leaf is not None and leaf.chain_file.endswith("secc.pem") and leaf.certificate() is not None
    assert "V2GRootCertificate" in certs and "SECC leaf" in certs and "DESK-1" in certs
