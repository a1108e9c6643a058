"""Contract installation through the station (issue #17): the rig car's signed CertificateInstallationReq goes
through the SECC and OCPP Get15118EVCertificate to the rig CSMS's provisioning service, and the car installs a
contract chained to the MO root from the answer the SECC passes on as it is."""
from __future__ import annotations

import asyncio
import base64
from dataclasses import replace

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from hil.csms.role_ev_certificates import ContractProvisioningRole
from hil.pki import contract_provisioning
from hil.pki.contract_provisioning import ProvisioningRefused, install, installation_request
from hil.pki.rig_pki import DEFAULT_EMAID, rig_pki
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms
from tests.v2g.test_secc_certificate_forwarding import _selected, contract_accepted  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(60)


def test_the_service_answers_a_contract_the_car_can_decrypt_and_chain_to_the_mo_root():
    pki = rig_pki()
    answer = contract_provisioning.answer_installation(pki, installation_request(pki, bytes(8)), DEFAULT_EMAID)
    contract = install(pki, answer)
    assert contract.emaid == DEFAULT_EMAID
    assert contract.chain[0].subject.rfc4514_string().endswith(f"CN={DEFAULT_EMAID}")
    assert contract.chain[-1].issuer == pki.mo_root.cert.subject


def test_the_kdf_and_cipher_round_trip_and_a_wrong_car_key_gives_another_key():
    from cryptography.hazmat.primitives.asymmetric import ec
    pki = rig_pki()
    contract = ec.generate_private_key(ec.SECP256R1())
    dh_public, encrypted = contract_provisioning.encrypt_contract_key(pki.oem_provisioning.cert.public_key(), contract)
    assert len(dh_public) == 65 and dh_public[0] == 4 and len(encrypted) == 48
    back = contract_provisioning.decrypt_contract_key(encrypted, pki.oem_provisioning.key, dh_public)
    assert back.private_numbers().private_value == contract.private_numbers().private_value
    other = contract_provisioning.decrypt_contract_key(encrypted, pki.secc.key, dh_public)
    assert other.private_numbers().private_value != contract.private_numbers().private_value


def test_a_changed_answer_or_a_foreign_provisioning_chain_is_refused_by_the_car():
    pki = rig_pki()
    good = contract_provisioning.answer_installation(pki, installation_request(pki, bytes(8)), DEFAULT_EMAID)
    message = exi.decode("iso2", good)
    res = message.Body.CertificateInstallationRes
    key = res.ContractSignatureEncryptedPrivateKey
    tampered = replace(message, Body=iso2.Body(CertificateInstallationRes=replace(
        res, ContractSignatureEncryptedPrivateKey=replace(key, content=bytes([key.content[0] ^ 1]) + key.content[1:]))))
    with pytest.raises(ProvisioningRefused, match="signature"):
        install(pki, exi.encode("iso2", tampered))
    from hil.pki.rig_pki import generate
    stranger = generate()  # another rig PKI: its car trusts another V2G root
    with pytest.raises(ProvisioningRefused, match="V2G root"):
        install(stranger, good)


def test_an_update_gives_a_new_contract_for_the_same_emaid_encrypted_to_the_old_contract_key():
    pki = rig_pki()
    role = ContractProvisioningRole(pki)
    first = install(pki, contract_provisioning.answer_installation(pki, installation_request(pki, bytes(8)),
                                                                   DEFAULT_EMAID))
    request = contract_provisioning.update_request(pki, first, bytes(8))
    status, answer = asyncio.run(role.answer("Update", base64.b64encode(request).decode()))
    assert status == "Accepted"
    renewed = install(pki, base64.b64decode(answer), old=first)
    assert renewed.emaid == first.emaid and renewed.chain[0].serial_number != first.chain[0].serial_number
    assert renewed.key.private_numbers().private_value != first.key.private_numbers().private_value
    res = exi.decode("iso2", base64.b64decode(answer)).Body.CertificateUpdateRes
    with_oem_key = contract_provisioning.decrypt_contract_key(  # encrypted to the old contract, not the car's OEM key
        res.ContractSignatureEncryptedPrivateKey.content, pki.oem_provisioning.key, res.DHpublickey.content)
    assert with_oem_key.private_numbers().private_value != renewed.key.private_numbers().private_value


def test_a_request_with_a_bad_car_signature_is_failed_by_the_service():
    pki = rig_pki()
    message = exi.decode("iso2", installation_request(pki, bytes(8)))
    req = message.Body.CertificateInstallationReq
    forged = replace(message, Body=iso2.Body(CertificateInstallationReq=replace(req, Id="id9")))
    role = ContractProvisioningRole(pki)
    status, answer = asyncio.run(role.answer("Install", base64.b64encode(exi.encode("iso2", forged)).decode()))
    assert (status, answer) == ("Failed", "")
    assert asyncio.run(role.answer("Update", base64.b64encode(exi.encode("iso2", message)).decode()))[0] == "Failed"


class _SessionClient:
    """The car's V2GTP client, straight into one SECC session (no socket)."""

    def __init__(self, session):
        self.session = session
        self.tls_stream = None

    async def request(self, payload: bytes, timeout_s: float) -> bytes:
        return await asyncio.wait_for(self.session.on_message(payload), timeout_s)


@run_async
async def test_through_the_secc_and_ocpp_the_car_installs_a_contract_well_inside_its_5_s(tmp_path, contract_accepted):
    from hil.ev.evcc.link import V2gEvLink
    from hil.ev.evcc.profile import load_profile
    from hil.ev.evcc.requests import RequestBuilder

    pki = rig_pki()
    role = ContractProvisioningRole(pki)
    async with station_and_csms([FakeConnector(1)], certificate_dir=str(tmp_path / "certs")) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        csms.ev_certificate_answer = role.answer
        bench = await _selected(service.ev_certificates)  # the SECC's provider: the OCPP relay
        car = V2gEvLink(load_profile("iso2"), connect=None)
        car.client, car.builder = _SessionClient(bench.session), RequestBuilder("iso2", load_profile("iso2"))
        car.builder.session_id = bench.session.ctx.session_id
        contract = await car.install_contract(pki)
        sent = csms.calls("Get15118EVCertificate")
    took = car.exchanges[-1]["round_trip_s"]
    assert car.contract.emaid == contract.emaid == DEFAULT_EMAID and car.contract.signing_key is contract.key
    assert contract.chain[-1].issuer == pki.mo_root.cert.subject  # chained to the MO root
    assert sent[0]["action"] == "Install" and not bench.connection.closed and bench.faults == []
    assert took < 2.0, f"CertificateInstallation round trip {took:.3f} s"  # the car waits 5 s
    assert csms.violations == [] and role.answered[0][:2] == ("Install", "Accepted")
    print(f"CertificateInstallation round trip through SECC + OCPP + rig CSMS: {took * 1000:.1f} ms")


@run_async
async def test_the_car_refuses_a_failed_answer_with_a_link_error(contract_accepted):
    from hil.ev.evcc.link import V2gEvLink
    from hil.ev.evcc.link_error import EvLinkError
    from hil.ev.evcc.profile import load_profile
    from hil.ev.evcc.requests import RequestBuilder

    class Silent:
        async def ev_certificate(self, action, namespace, exi_request):
            return None
    bench = await _selected(Silent())
    car = V2gEvLink(load_profile("iso2"), connect=None)
    car.client, car.builder = _SessionClient(bench.session), RequestBuilder("iso2", load_profile("iso2"))
    car.builder.session_id = bench.session.ctx.session_id
    with pytest.raises(EvLinkError, match="no OK CertificateInstallationRes"):
        await car.install_contract(rig_pki())
    assert car.contract is None
