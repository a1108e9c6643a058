"""Plug & Charge at the CSMS (OCPP 2.0.1 C07, issue #17): Authorize of an eMAID carries the contract chain's
OCSP names (iso15118CertificateHashData, schema-valid), and the CSMS's certificateStatus becomes the ISO-2
code the car gets."""
from __future__ import annotations

import hashlib
import time

import pytest

from controller.ocpp.certificates import _key_bits
from controller.ocpp.contract_certificates import ISO2_CODES, certificate_hash_data, iso2_code, present_contract
from controller.v2g.contract.contract_token import ContractToken
from hil.pki.rig_pki import MO_OCSP_URL, good_contract, rig_pki
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


def _token() -> ContractToken:
    leaf, subs = good_contract().ders()
    return ContractToken(good_contract().emaid, leaf, tuple(subs))


@pytest.mark.parametrize("status, code", [
    ("Accepted", "OK"), ("SignatureError", "FAILED_SignatureError"),
    ("CertificateExpired", "FAILED_CertificateExpired"), ("CertificateRevoked", "FAILED_CertificateRevoked"),
    ("NoCertificateAvailable", "FAILED_NoCertificateAvailable"), ("CertChainError", "FAILED_CertChainError"),
    ("ContractCancelled", "FAILED_ContractCanceled"), (None, "OK"), ("SomethingNew", "FAILED")])
def test_each_certificate_status_maps_to_its_iso2_code(status, code):
    assert iso2_code(status) == code


def test_every_code_is_one_the_iso2_codec_knows():
    from controller.formats.v2g.messages import iso2
    known = {member.value for member in iso2.ResponseCode}
    assert set(ISO2_CODES.values()) <= known


def test_hash_data_names_each_certificate_but_the_root_as_ocsp_does():
    pki = rig_pki()
    data = certificate_hash_data(_token().chain_ders(), [pki.mo_root.cert])
    pairs = [(pki.contract.cert, pki.mo_sub2.cert), (pki.mo_sub2.cert, pki.mo_sub1.cert),
             (pki.mo_sub1.cert, pki.mo_root.cert)]
    assert len(data) == 3
    for entry, (cert, issuer) in zip(data, pairs):
        assert entry["hash_algorithm"] == "SHA256"
        assert entry["issuer_name_hash"] == hashlib.sha256(issuer.subject.public_bytes()).hexdigest()
        assert entry["issuer_key_hash"] == hashlib.sha256(_key_bits(issuer.public_key())).hexdigest()
        assert entry["serial_number"] == format(cert.serial_number, "x")
        assert entry["responder_url"].startswith(MO_OCSP_URL)


def test_without_the_mo_root_the_last_sub_ca_is_left_out_and_garbage_gives_none():
    assert len(certificate_hash_data(_token().chain_ders())) == 2  # its issuer's key is not at hand
    assert certificate_hash_data([b"not a certificate"]) == []


async def _present(csms_status: str | None, token_status: str = "Accepted"):
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens[good_contract().emaid] = {"status": token_status}
        csms.contract_status_answer = lambda data: csms_status
        await csms.wait_for(lambda: service.accepted and csms.calls("StatusNotification"), 5)
        connector.move("plugged")
        result = await present_contract(service.identification, _token(), 1, [rig_pki().mo_root.cert])
        cached = service.authorization.cache.lookup(_token().id_token(), time.time(), 3600.0)
        return result, connector, csms.calls("Authorize"), list(csms.violations), cached


@run_async
async def test_the_authorize_frame_carries_the_hash_data_and_is_schema_valid():
    (outcome, _, code), connector, calls, violations, cached = await _present("Accepted")
    assert (outcome, code) == ("authorized", "OK") and connector.authorized and cached == {"status": "Accepted"}
    assert violations == []
    [frame] = calls
    assert frame["idToken"] == {"idToken": good_contract().emaid, "type": "eMAID"}
    data = frame["iso15118CertificateHashData"]
    assert len(data) == 3 and set(data[0]) == {"hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber",
                                               "responderURL"}


@run_async
async def test_a_revoked_contract_is_refused_with_its_code_and_not_cached():
    (outcome, text, code), connector, _, violations, cached = await _present("CertificateRevoked")
    assert (outcome, code) == ("refused", "FAILED_CertificateRevoked") and not connector.authorized
    assert cached is None  # an Accepted eMAID of a revoked chain must not authorize it later from the cache
    assert "CertificateRevoked" in text and violations == []


@run_async
async def test_an_emaid_the_csms_refuses_is_a_plain_failed():
    (outcome, _, code), connector, _, _, _ = await _present(None, token_status="Invalid")
    assert (outcome, code) == ("refused", "FAILED") and not connector.authorized


# ---- ISO15118Ctrlr: CentralContractValidationAllowed, ContractValidationOffline -----------------------------
def _iso(name: str, value: str) -> dict:
    return {"component": {"name": "ISO15118Ctrlr"}, "variable": {"name": name}, "attributeValue": value}


async def _present_with(token: ContractToken, *, variables=(), offline=False, csms_status=None):
    from controller.ocpp.contract_settings import ContractSettings
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        csms.tokens[good_contract().emaid] = {"status": "Accepted"}
        csms.contract_status_answer = lambda data: csms_status
        await csms.wait_for(lambda: service.accepted and csms.calls("StatusNotification"), 5)
        if variables:
            answer = await csms.set_variables(next(iter(csms.stations)), list(variables))
            assert [r["attribute_status"] for r in answer.set_variable_result] == ["Accepted"] * len(variables)
        if offline:
            await csms.stop()
            await csms.wait_for(lambda: not service.accepted, 5)
        connector.move("plugged")
        result = await present_contract(service.identification, token, 1, [], ContractSettings(service.device_model))
        return result, connector, csms.calls("Authorize"), list(csms.violations)


def _central_token() -> ContractToken:
    leaf, subs = good_contract().ders()
    return ContractToken(good_contract().emaid, leaf, tuple(subs), locally_validated=False)


@run_async
async def test_the_switches_are_in_the_device_model_and_set_by_the_csms():
    from controller.ocpp.contract_settings import ContractSettings
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        settings = ContractSettings(service.device_model)
        assert (settings.central_validation_allowed, settings.validation_offline) == (False, False)
        station = next(iter(csms.stations))
        answer = await csms.set_variables(station, [_iso("CentralContractValidationAllowed", "true"),
                                                    _iso("ContractValidationOffline", "true")])
        assert [r["attribute_status"] for r in answer.set_variable_result] == ["Accepted", "Accepted"]
        assert (settings.central_validation_allowed, settings.validation_offline) == (True, True)
        bad = await csms.set_variables(station, [_iso("ContractValidationOffline", "maybe")])
        assert bad.set_variable_result[0]["attribute_status"] == "Rejected"


@run_async
async def test_central_validation_sends_the_chain_and_the_csms_decides():
    (outcome, _, code), connector, calls, violations = await _present_with(_central_token(), csms_status="Accepted")
    assert (outcome, code) == ("authorized", "OK") and connector.authorized and violations == []
    [frame] = calls
    assert frame["certificate"].count("BEGIN CERTIFICATE") == 3  # leaf and both sub-CAs, PEM
    assert len(frame["iso15118CertificateHashData"]) == 2  # the MO root is not here: sub-CA 1 cannot be named


@run_async
async def test_central_validation_without_a_certificate_status_is_no_certificate_available():
    (outcome, _, code), connector, _, violations = await _present_with(_central_token(), csms_status=None)
    assert (outcome, code) == ("refused", "FAILED_NoCertificateAvailable") and not connector.authorized
    assert violations == []


@pytest.mark.parametrize("allowed, token, expected", [
    ("true", _token, ("authorized", "OK")),
    ("false", _token, ("refused", "FAILED")),
    ("true", _central_token, ("refused", "FAILED_NoCertificateAvailable")),  # nobody validated its chain
])
def test_offline_a_contract_follows_contract_validation_offline(allowed, token, expected):
    async def go():
        return await _present_with(token(), variables=[_iso("ContractValidationOffline", allowed)], offline=True)
    (outcome, _, code), connector, _, _ = run_async(go)()
    assert (outcome, code) == expected and connector.authorized == (expected[0] == "authorized")


def test_the_switches_are_kept_across_a_restart(tmp_path):
    from controller.formats.cabinet.config import OcppConfig
    from controller.ocpp.contract_settings import ContractSettings
    from controller.ocpp.device_model import DeviceModel
    from controller.store.ocpp_variables import VariableStore

    def model():
        return DeviceModel(OcppConfig(), "S", {1: "CCS1"}, lambda evse: "Available", VariableStore(tmp_path / "v.db"))
    first = model()
    for name in ("CentralContractValidationAllowed", "ContractValidationOffline"):
        assert first.set({"name": "ISO15118Ctrlr"}, {"name": name}, None, "true") == "Accepted"
    first.close()
    again = ContractSettings(model())
    assert (again.central_validation_allowed, again.validation_offline) == (True, True)
