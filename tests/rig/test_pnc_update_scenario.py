"""`pnc-update` (issue 17): a car whose contract leaf expires in 5 days renews it before it pays. Over TLS its
CertificateUpdateReq (signed with the old contract's key) goes through the SECC and OCPP Get15118EVCertificate
(action Update) to the rig CSMS's provisioning service; the car checks the answer (provisioning chain, all four
signed references, the new key decrypted with the OLD contract's key, the new chain to the MO root) and pays
with the new contract: PaymentDetails with the new chain, a signed Authorization; only the eMAID authorizes
(auto-authorization off), at the CSMS."""
from __future__ import annotations

import asyncio

import pytest
from cryptography import x509

from hil.pki.rig_pki import DEFAULT_EMAID
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


async def _no_auto_authorize(run) -> list[str]:
    return ["charging.auto_authorize=false"]


def test_pnc_update_renews_the_expiring_contract_through_ocpp_and_charges_with_the_new_one():
    runs, decided = [], []

    def watch(run) -> None:
        """Keep the run (its car afterwards) and every token the controller decides on, with its source."""
        runs.append(run)
        attach = run.v2g.attach

        async def attach_watching(app):
            identification = app.ocpp.identification  # with OCPP every token goes here (a contract's too)
            decide = identification.present

            async def present(id_token: dict, connector_id=None, source: str = "", contract=None):
                presented = await decide(id_token, connector_id, source, contract)
                decided.append({**id_token, "source": source, "outcome": presented.outcome})
                return presented
            identification.present = present
            return await attach(app)
        run.v2g.attach = attach_watching

    report, problems = asyncio.run(run_scenario("pnc-update", load_setup("desk"), protocol="iso2",
                                                before_controller=_no_auto_authorize, on_run=watch))
    assert not problems, (problems, report)
    conn = report["connectors"][0]
    assert report["result"] == "ok" and conn["car"]["reason"] == "target_soc", conn["car"]
    assert conn["energy_kwh"] > 0.0 and report["faults"] == []
    assert report["v2g"]["tls"] == {1: "TLSv1.2 ECDHE-ECDSA-AES128-SHA256"}
    asked = list(report["v2g"]["car_round_trips"])
    assert "CertificateInstallationReq" not in asked
    assert asked.index("CertificateUpdateReq") < asked.index("PaymentDetailsReq") < asked.index("AuthorizationReq")
    took_ms = report["v2g"]["car_round_trips"]["CertificateUpdateReq"]["max_ms"]
    assert took_ms < 2000, took_ms  # through SECC, OCPP and the CSMS; the car waits 5 s
    # the Update went to the CSMS, and its answer came back Accepted
    frames = [f["frame"] for f in report["ocpp"]["traffic"]]
    updates = [f for f in frames if '"Get15118EVCertificate"' in f]
    assert len(updates) == 1 and '"action":"Update"' in updates[0], updates
    assert any('"status":"Accepted"' in f and '"exiResponse"' in f for f in frames)
    # the car holds a new contract (another leaf and key, same eMAID, valid for years), the old one expiring
    link = runs[0].cars[1].link
    old, new = link.replaced_contract, link.contract
    assert old is not None and old.variant == "expiring" and new.variant == "installed"
    assert new.leaf_der != old.leaf_der and new.emaid == old.emaid == DEFAULT_EMAID
    assert new.signing_key.private_numbers().private_value != old.signing_key.private_numbers().private_value
    old_leaf, new_leaf = (x509.load_der_x509_certificate(c.leaf_der) for c in (old, new))
    assert (new_leaf.not_valid_after_utc - old_leaf.not_valid_after_utc).days > 300
    # the token the controller decided on: the eMAID, from the contract the SECC checked, accepted by the CSMS
    assert decided and all(d["idToken"] == DEFAULT_EMAID and d["type"] == "eMAID" and d["source"] == "contract"
                           for d in decided), decided
    assert decided[-1]["outcome"] == "authorized", decided
