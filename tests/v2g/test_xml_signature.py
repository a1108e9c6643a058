"""ISO-2 XML signatures over EXI fragments: made with the contract key of the rig's PKI, checked with its
certificate, and every tampering found; the signed message survives the EXI round trip."""
from __future__ import annotations

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from controller.v2g.secc.xml_signature import SignatureInvalid, element_digest, sign, verify
from hil.pki.rig_pki import rig_pki

pytestmark = pytest.mark.timeout(30)


def _request() -> iso2.AuthorizationReq:
    return iso2.AuthorizationReq(Id="ID1", GenChallenge=bytes(range(16)))


def test_a_signed_authorization_req_verifies_after_the_exi_round_trip():
    pki = rig_pki()
    request = _request()
    signature = sign(pki.contract.key, [("AuthorizationReq", request)])
    message = iso2.V2G_Message(Header=iso2.MessageHeader(SessionID=bytes(8), Signature=signature),
                               Body=iso2.Body(AuthorizationReq=request))
    received = exi.decode("iso2", exi.encode("iso2", message))
    verify(received.Header.Signature, [("AuthorizationReq", received.Body.AuthorizationReq)],
           pki.contract.cert.public_key())
    [reference] = received.Header.Signature.SignedInfo.Reference
    assert reference.URI == "#ID1" and reference.DigestValue == element_digest("AuthorizationReq", request)
    assert len(received.Header.Signature.SignatureValue.content) == 64


@pytest.mark.parametrize("tamper, reason", [
    (lambda sig, req, pki: setattr(req, "GenChallenge", bytes(16)), "digest of AuthorizationReq does not match"),
    (lambda sig, req, pki: setattr(req, "Id", "ID2"), "is not referenced"),
    (lambda sig, req, pki: setattr(sig.SignatureValue, "content", bytes(64)), "does not verify"),
    (lambda sig, req, pki: setattr(sig.SignatureValue, "content", bytes(70)), "not r || s"),
    (lambda sig, req, pki: setattr(sig.SignedInfo.SignatureMethod, "Algorithm", "rsa"), "not ECDSA-SHA256"),
])
def test_tampering_is_found(tamper, reason):
    pki = rig_pki()
    request = _request()
    signature = sign(pki.contract.key, [("AuthorizationReq", request)])
    tamper(signature, request, pki)
    with pytest.raises(SignatureInvalid, match=reason):
        verify(signature, [("AuthorizationReq", request)], pki.contract.cert.public_key())


def test_a_signature_by_another_key_does_not_verify():
    pki = rig_pki()
    request = _request()
    signature = sign(pki.oem_provisioning.key, [("AuthorizationReq", request)])
    with pytest.raises(SignatureInvalid, match="does not verify with the contract key"):
        verify(signature, [("AuthorizationReq", request)], pki.contract.cert.public_key())
    with pytest.raises(SignatureInvalid, match="no signature"):
        verify(None, [("AuthorizationReq", request)], pki.contract.cert.public_key())
