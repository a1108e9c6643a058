"""The rig's provisioning service signs the four elements ISO 15118-2 signs in CertificateInstallationRes and
CertificateUpdateRes (contract chain id1, encrypted key id2, DH public key id3, eMAID id4), and the rig car
requires all four: an answer whose eMAID was changed after signing, or whose signature leaves one out, is
refused (hil/pki/contract_provisioning.py)."""
from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from hil.pki import contract_provisioning, xml_signing
from hil.pki.contract_provisioning import ProvisioningRefused, install, installation_request
from hil.pki.rig_pki import DEFAULT_EMAID, rig_pki

pytestmark = pytest.mark.timeout(60)
SIGNED = ("ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey", "DHpublickey", "eMAID")


def _answer(kind: str = "CertificateInstallationRes"):
    pki = rig_pki()
    if kind == "CertificateInstallationRes":
        data = contract_provisioning.answer_installation(pki, installation_request(pki, bytes(8)), DEFAULT_EMAID)
        return pki, None, data
    first = install(pki, contract_provisioning.answer_installation(pki, installation_request(pki, bytes(8)),
                                                                   DEFAULT_EMAID))
    data = contract_provisioning.answer_update(pki, contract_provisioning.update_request(pki, first, bytes(8)))
    return pki, first, data


@pytest.mark.parametrize("kind", ["CertificateInstallationRes", "CertificateUpdateRes"])
def test_all_four_elements_are_referenced_with_their_fragment_digests(kind):
    _, _, data = _answer(kind)
    message = exi.decode("iso2", data)
    res = getattr(message.Body, kind)
    references = {ref.URI: ref.DigestValue for ref in message.Header.Signature.SignedInfo.Reference}
    assert list(references) == ["#id1", "#id2", "#id3", "#id4"]
    assert res.eMAID == iso2.EMAID(Id="id4", content=DEFAULT_EMAID)
    emaid_fragment = exi.encode_fragment("iso2", "eMAID", res.eMAID)
    assert emaid_fragment[:2] == bytes([0x80, 0xEC])  # SE(eMAID) in the message schema's fragment grammar
    assert references["#id4"] == hashlib.sha256(emaid_fragment).digest()


@pytest.mark.parametrize("kind", ["CertificateInstallationRes", "CertificateUpdateRes"])
def test_an_emaid_changed_after_signing_is_refused_by_the_car(kind):
    pki, old, data = _answer(kind)
    message = exi.decode("iso2", data)
    res = getattr(message.Body, kind)
    assert install(pki, data, old=old).emaid == DEFAULT_EMAID  # untouched: accepted
    changed = replace(res, eMAID=replace(res.eMAID, content="USCPIC0000002X"))
    tampered = exi.encode("iso2", replace(message, Body=iso2.Body(**{kind: changed})))
    with pytest.raises(ProvisioningRefused, match="signature: eMAID: not referenced or digest differs"):
        install(pki, tampered, old=old)


def test_a_signature_that_leaves_the_emaid_out_is_refused_by_the_car():
    pki, _, data = _answer()
    message = exi.decode("iso2", data)
    res = message.Body.CertificateInstallationRes
    # re-signed by the provisioning service itself, over the first three elements only
    three = xml_signing.sign(contract_provisioning.cps_chain(pki)[2].key,
                             [(name, getattr(res, name)) for name in SIGNED[:3]])
    resigned = exi.encode("iso2", replace(message, Header=replace(message.Header, Signature=three)))
    with pytest.raises(ProvisioningRefused, match="signature: eMAID: not referenced"):
        install(pki, resigned)


def test_the_pnc_update_verdict_wants_an_update_answered_accepted():
    import asyncio
    import base64

    from hil.csms.role_ev_certificates import ContractProvisioningRole
    pki, first, _ = _answer("CertificateUpdateRes")
    role = ContractProvisioningRole(pki, expect="Update")
    assert role.problems and "no Get15118EVCertificate Update answered Accepted" in role.problems[0]
    install_request = base64.b64encode(installation_request(pki, bytes(8))).decode()
    assert asyncio.run(role.answer("Install", install_request))[0] == "Accepted"
    assert role.problems  # an installation is not the renewal the scenario is about
    update = base64.b64encode(contract_provisioning.update_request(pki, first, bytes(8))).decode()
    assert asyncio.run(role.answer("Update", update))[0] == "Accepted"
    assert role.problems == []
    assert ContractProvisioningRole(pki).problems == []  # nothing expected
