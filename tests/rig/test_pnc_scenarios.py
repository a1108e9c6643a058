"""Plug & Charge with a contract present, in the rig (issue 17): the car asks TLS, pays with its contract,
signs Authorization and MeteringReceipt; the station checks the contract against the MO root it was given
([v2g.tls] mo_roots). Each broken contract ends with its ISO-2 code and no energy."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.capture.dissect import CaptureDissector, dissect_file
from controller.formats.capture.tls12 import read_key_log
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]
ISO2_TLS = "TLSv1.2 ECDHE-ECDSA-AES128-SHA256"


async def _no_auto_authorize(run) -> list[str]:
    return ["charging.auto_authorize=false"]  # only the eMAID can authorize the car


def _run(name: str, **kwargs) -> tuple[dict, list[str]]:
    return asyncio.run(run_scenario(name, load_setup("desk"), protocol="iso2", before_controller=_no_auto_authorize,
                                    **kwargs))


def test_pnc_charges_over_tls_authorized_by_the_emaid(tmp_path):
    pcap = tmp_path / "pnc.pcap"
    report, problems = _run("pnc", pcap=str(pcap))
    assert not problems, (problems, report)
    conn = report["connectors"][0]
    assert report["result"] == "ok" and conn["car"]["reason"] == "target_soc" and conn["energy_kwh"] > 0.0
    assert report["v2g"]["tls"] == {1: ISO2_TLS} and report["faults"] == []
    asked = report["v2g"]["car_round_trips"]
    assert {"PaymentDetailsReq", "AuthorizationReq", "MeteringReceiptReq"} <= set(asked), asked
    answered = report["v2g"]["answer_times"]
    assert answered["PaymentDetailsReq"]["max_ms"] < 2000 and answered["AuthorizationReq"]["max_ms"] < 2000
    # the capture, decrypted with the SECC's key log, shows the Plug & Charge exchange as it crossed
    dissector = CaptureDissector(tls_keys=read_key_log(tmp_path / "pnc.pcap.tls-keys"))
    types = [m.type for m in dissect_file(pcap, dissector) if m.protocol == "V2G" and not m.error]
    for kind in ("PaymentServiceSelectionReq", "PaymentDetailsReq", "PaymentDetailsRes", "AuthorizationReq",
                 "MeteringReceiptReq", "MeteringReceiptRes"):
        assert kind in types, (kind, dissector.skipped)


@pytest.mark.parametrize("name, refusal", [
    ("pnc-expired", "payment_details: FAILED_CertificateExpired"),
    ("pnc-wrong-chain", "payment_details: FAILED_CertChainError"),
    ("pnc-bad-signature", "authorize: FAILED_SignatureError"),
])
def test_a_broken_contract_ends_with_its_code_and_no_energy(name, refusal):
    report, problems = _run(name)
    assert not problems, (problems, report)
    conn = report["connectors"][0]
    assert report["result"] == "failed" and conn["car"]["reason"].startswith(refusal), conn["car"]
    assert [f["code"] for f in report["faults"]] == ["EV_SESSION_REFUSED"]
    assert conn["energy_kwh"] == 0.0 and conn["rig_energy_kwh"] == 0.0
    assert "CableCheckReq" not in report["v2g"]["car_round_trips"]  # refused before anything was energized
    assert not conn["final"]["contactors_closed"] and not conn["final"]["modules_on"]


def test_with_ocpp_the_csms_authorizes_the_emaid_as_an_id_token():
    """The eMAID goes where a card's idToken goes: the CSMS gets Authorize with type eMAID, and only its
    acceptance lets the car charge (the controller's auto-authorization is off)."""
    from hil.pki.rig_pki import rig_pki
    emaid = rig_pki().emaid

    def accept_the_contract(run) -> None:
        run.csms.csms.tokens[emaid] = {"status": "Accepted"}

    report, problems = asyncio.run(run_scenario("pnc", load_setup("desk"), protocol="iso2", ocpp_profile=1,
                                                before_controller=_no_auto_authorize, on_run=accept_the_contract))
    assert not problems, (problems, report)
    assert report["connectors"][0]["energy_kwh"] > 0.0
    authorize = [f for f in report["ocpp"]["traffic"] if '"Authorize"' in f["frame"]]
    assert authorize and all(f'{{"idToken":"{emaid}","type":"eMAID"}}' in f["frame"] for f in authorize), authorize
    started = [e for e in report["ocpp"]["transaction_events"] if e["type"] == "Started"]
    assert len(started) == 1


def test_with_ocpp_an_emaid_the_csms_does_not_know_ends_the_session_without_energy():
    report, _ = asyncio.run(run_scenario("pnc", load_setup("desk"), protocol="iso2", ocpp_profile=1,
                                         before_controller=_no_auto_authorize))
    conn = report["connectors"][0]
    assert conn["car"]["reason"].startswith("authorize: FAILED /"), conn["car"]  # not the car's own timeout
    assert conn["energy_kwh"] == 0.0 and conn["rig_energy_kwh"] == 0.0
    assert not conn["final"]["contactors_closed"] and not conn["final"]["modules_on"]
    answers = [f["frame"] for f in report["ocpp"]["traffic"] if '"idTokenInfo"' in f["frame"]]
    assert answers and '"status":"Unknown"' in answers[0]


def test_pnc_over_veth():
    from hil.link.netns import NetnsUnavailable, why_unavailable
    reason = why_unavailable()
    if reason:
        pytest.skip(f"veth link mode skipped: {reason}")
    try:
        report, problems = _run("pnc", link_mode="veth")
    except NetnsUnavailable as exc:
        pytest.skip(f"veth link mode skipped: {exc}")
    assert not problems, (problems, report)
    assert report["v2g"]["tls"] == {1: ISO2_TLS} and report["v2g"]["link"] == "veth"
    assert "AuthorizationReq" in report["v2g"]["car_round_trips"]


def test_pnc_install_gets_a_contract_through_ocpp_and_charges_authorized_by_its_emaid():
    """The car holds no contract: its CertificateInstallationReq goes to the CSMS in Get15118EVCertificate, the
    answer comes back byte for byte, the car decrypts its new contract key and pays with it; only the eMAID
    authorizes (auto-authorization off), at the CSMS."""
    from hil.pki.rig_pki import DEFAULT_EMAID
    report, problems = _run("pnc-install")
    assert not problems, (problems, report)
    conn = report["connectors"][0]
    assert conn["car"]["reason"] == "target_soc" and conn["energy_kwh"] > 0.0 and report["faults"] == []
    asked = list(report["v2g"]["car_round_trips"])
    assert asked.index("CertificateInstallationReq") < asked.index("PaymentDetailsReq") < asked.index("AuthorizationReq")
    frames = [f["frame"] for f in report["ocpp"]["traffic"]]
    installs = [f for f in frames if '"Get15118EVCertificate"' in f]
    assert len(installs) == 1 and '"action":"Install"' in installs[0]
    authorize = [f for f in frames if '"Authorize"' in f]
    assert authorize and all(f'{{"idToken":"{DEFAULT_EMAID}","type":"eMAID"}}' in f for f in authorize), authorize


def test_pnc_revoked_the_csms_refuses_the_chain_at_authorize_no_energy():
    """The contract chains to the station's MO root, but the CSMS, named the chain in Authorize
    (iso15118CertificateHashData), says CertificateRevoked: the car gets FAILED_CertificateRevoked."""
    report, problems = _run("pnc-revoked")
    assert not problems, (problems, report)
    conn = report["connectors"][0]
    assert report["result"] == "failed" and conn["car"]["reason"].startswith("authorize: FAILED_CertificateRevoked"), \
        conn["car"]
    assert conn["energy_kwh"] == 0.0 and conn["rig_energy_kwh"] == 0.0
    assert "CableCheckReq" not in report["v2g"]["car_round_trips"]
    assert not conn["final"]["contactors_closed"] and not conn["final"]["modules_on"]
    authorize = [f["frame"] for f in report["ocpp"]["traffic"] if '"Authorize"' in f["frame"]
                 and '"iso15118CertificateHashData"' in f["frame"]]
    assert authorize, report["ocpp"]["traffic"]
    answers = [f["frame"] for f in report["ocpp"]["traffic"] if '"certificateStatus":"CertificateRevoked"' in f["frame"]]
    assert answers


def test_pnc_central_without_an_mo_root_the_csms_validates_the_chain_and_the_car_charges():
    """No MO root at the station, CentralContractValidationAllowed set by the CSMS: Contract is offered, the
    chain goes to the CSMS in Authorize (certificate, PEM, and the hash data it can name), which accepts."""
    report, problems = _run("pnc-central")
    assert not problems, (problems, report)
    conn = report["connectors"][0]
    assert conn["car"]["reason"] == "target_soc" and conn["energy_kwh"] > 0.0 and report["faults"] == []
    authorize = [f["frame"] for f in report["ocpp"]["traffic"] if '"Authorize"' in f["frame"]
                 and '"certificate":"-----BEGIN CERTIFICATE' in f["frame"]]
    assert len(authorize) == 1, report["ocpp"]["traffic"]
    assert any('"certificateStatus":"Accepted"' in f["frame"] for f in report["ocpp"]["traffic"])
