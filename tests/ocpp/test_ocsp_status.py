"""GetCertificateStatus (M06) for the SECC leaf: the OCSP data from its AIA, the answer kept with its nextUpdate,
asked again daily; the rig CSMS answers with a real OCSP response (issue #17)."""
from __future__ import annotations

import asyncio
import datetime
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from controller.ocpp.ocsp_status import REFRESH, SeccOcspStatus, request_data
from hil.csms.role_ocsp import OcspResponder
from hil.csms.secc_signing import OCSP_URL, sign_secc_csr
from hil.pki.rig_pki import rig_pki
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


def _signed_chain() -> list[x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(
        [x509.NameAttribute(x509.NameOID.COMMON_NAME, "CS-1")])).sign(key, hashes.SHA256())
    pem = sign_secc_csr(rig_pki(), csr.public_bytes(serialization.Encoding.PEM).decode())
    return x509.load_pem_x509_certificates(pem.encode())


def _responder(chain) -> OcspResponder:
    responder = OcspResponder()
    responder.know(chain[0], chain[1], rig_pki().cpo_sub2.key)
    return responder


def test_the_request_names_the_leaf_as_ocsp_does_and_its_aia_responder():
    chain = _signed_chain()
    data = request_data(chain[0], chain[1])
    built = ocsp.OCSPRequestBuilder().add_certificate(chain[0], chain[1], hashes.SHA256()).build()
    assert data == {"hash_algorithm": "SHA256", "issuer_name_hash": built.issuer_name_hash.hex(),
                    "issuer_key_hash": built.issuer_key_hash.hex(), "serial_number": format(built.serial_number, "x"),
                    "responder_url": OCSP_URL}
    assert request_data(rig_pki().secc.cert, rig_pki().cpo_sub2.cert) is None  # no AIA: nothing to ask


class Clock:
    def __init__(self):
        self.now = datetime.datetime.now(datetime.timezone.utc)

    def __call__(self):
        return self.now


def test_the_answer_is_kept_and_asked_again_only_after_a_day_or_for_a_new_leaf(tmp_path):
    chain, other = _signed_chain(), _signed_chain()
    responder = _responder(chain)
    responder.know(other[0], other[1], rig_pki().cpo_sub2.key)
    clock = Clock()
    status = SeccOcspStatus(tmp_path, clock)
    status.leaf_chain = lambda: chain
    sent = []

    async def send(payload):
        sent.append(payload)
        result, answer = responder.answer(payload.ocsp_request_data)
        return SimpleNamespace(status=result, ocsp_result=answer)

    async def turns(n):
        for _ in range(n):
            await status.refresh(send)
    asyncio.run(turns(3))
    assert len(sent) == 1
    kept = ocsp.load_der_ocsp_response(status.response())
    assert kept.certificate_status == ocsp.OCSPCertStatus.GOOD and kept.serial_number == chain[0].serial_number
    assert status.next_update() == kept.next_update_utc
    clock.now += REFRESH  # a day later (the answer's nextUpdate is two days out): asked again
    asyncio.run(turns(2))
    assert len(sent) == 2
    status.leaf_chain = lambda: other  # a new leaf: asked at once
    asyncio.run(turns(1))
    assert len(sent) == 3 and ocsp.load_der_ocsp_response(status.response()).serial_number == other[0].serial_number
    again = SeccOcspStatus(tmp_path, clock)  # after a restart the kept, current answer is not asked for again
    again.leaf_chain = lambda: other
    asyncio.run(again.refresh(send))
    assert len(sent) == 3


def test_a_failed_answer_keeps_nothing_and_is_retried_later_not_at_every_turn(tmp_path):
    clock = Clock()
    status = SeccOcspStatus(tmp_path, clock)
    chain = _signed_chain()
    status.leaf_chain = lambda: chain
    sent = []

    async def send(payload):
        sent.append(payload)
        return SimpleNamespace(status="Failed", ocsp_result=None)
    asyncio.run(status.refresh(send))
    asyncio.run(status.refresh(send))
    assert len(sent) == 1 and status.response() is None
    clock.now += datetime.timedelta(minutes=11)
    asyncio.run(status.refresh(send))
    assert len(sent) == 2


@run_async
async def test_the_station_asks_the_rig_csms_and_keeps_its_real_ocsp_response(tmp_path):
    chain = _signed_chain()
    responder = _responder(chain)
    responder.revoked.add(chain[0].serial_number)
    async with station_and_csms([FakeConnector(1)], certificate_dir=str(tmp_path / "certs")) as (service, csms):
        csms.certificate_status_answer = responder.answer
        service.security.ocsp.leaf_chain = lambda: chain
        await csms.wait_for(lambda: service.accepted, 5)
        service._wake.set()
        await csms.wait_for(lambda: service.security.ocsp.response(), 5)
        asked = csms.calls("GetCertificateStatus")
    assert asked[0]["ocspRequestData"]["responderURL"] == OCSP_URL
    kept = ocsp.load_der_ocsp_response(service.security.ocsp.response())
    assert kept.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert len(responder.asked) == 1
    assert csms.violations == []
