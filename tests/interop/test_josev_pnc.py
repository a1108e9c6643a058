"""Josev's EVCC pays with its Plug & Charge contract at our SECC, both sides on Josev's own test PKI (issue 17).

Josev's script (iso15118/shared/pki/create_certs.sh, openssl) makes its ISO-2 PKI in tmp_path; the station gets
what an operator would give it through [v2g.tls] (`--set`, as charger-controller takes it): the SECC leaf with
its CPO sub-CA chain, the leaf's key (decrypted, mode 0600) and the MO root. Josev trusts that PKI's V2G root,
asks TLS and presents the contract leaf with its MO sub-CAs. Charging is not free (charging.auto_authorize off,
no OCPP, no console): only the eMAID can authorize the car. The verdict comes from the controller: the eMAID it
presented after the contract's chain and Josev's signature held (Contract is offered over TLS only), the
requests its SECC answered, the stored session (energy, ended by the car); never from Josev's exit status.
Josev 0.31.2's DC loop ignores ReceiptRequired (only its AC ChargingStatus state sends MeteringReceiptReq), so
MeteringReceipt is not exercised here; the station goes on charging without the receipt.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.interop.test_josev import finish, start

pytestmark = [pytest.mark.interop, pytest.mark.rig, pytest.mark.timeout(150)]
KEY_PASSWORD = "12345"  # Josev's script's default for every key


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Josev Plug & Charge cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"Josev Plug & Charge: {reason}")


@pytest.fixture
def josev_pki(josev: Path, tmp_path: Path) -> Path:
    """Josev's ISO-2 test PKI, made by its own script in tmp_path (PKI_PATH for Josev: iso15118_2/ under it)."""
    if shutil.which("openssl") is None:
        _skip_or_fail("no openssl for Josev's PKI script")
    probe = "import iso15118.shared, os; print(os.path.dirname(iso15118.shared.__file__))"
    where = subprocess.run([str(josev), "-c", probe], capture_output=True, text=True, timeout=60,
                           check=True).stdout.strip()
    pki = tmp_path / "pki"
    shutil.copytree(Path(where) / "pki", pki)
    made = subprocess.run(["bash", "create_certs.sh", "-v", "iso-2", "-p", KEY_PASSWORD], cwd=pki,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and (pki / "iso15118_2/certs/contractLeafCert.der").exists(), made.stderr[-2000:]
    return pki


def station_settings(pki: Path, into: Path, mo_root: str = "moRootCACert.pem") -> list[str]:
    """[v2g.tls] as an operator sets it from that PKI: chain file, unencrypted key (0600), MO root."""
    certs = pki / "iso15118_2" / "certs"
    key = into / "secc_key.pem"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    subprocess.run(["openssl", "ec", "-in", str(pki / "iso15118_2/private_keys/seccLeaf.key"), "-passin",
                    f"pass:{KEY_PASSWORD}", "-out", str(key)], capture_output=True, timeout=30, check=True)
    return [f"v2g.tls.cert_chain={json.dumps(str(certs / 'cpoCertChain.pem'))}",
            f"v2g.tls.key={json.dumps(str(key))}",
            f"v2g.tls.mo_roots={json.dumps(str(certs / mo_root))}",
            "charging.auto_authorize=false"]


def contract_emaid(pki: Path) -> str:
    leaf = x509.load_der_x509_certificate((pki / "iso15118_2/certs/contractLeafCert.der").read_bytes())
    return leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_josev_pays_by_contract_over_tls_and_charges(josev, josev_pki, tmp_path):
    t0 = time.monotonic()
    report_path = tmp_path / "report.json"
    proc = start(josev, "pnc.json", "charged", report_path, env=f"PKI_PATH={josev_pki}",
                 settings=station_settings(josev_pki, tmp_path))
    report = finish(proc, report_path)
    handshake = next(e for e in report["events"] if e["kind"] == "v2g_handshake")
    assert handshake["chosen"] == "urn:iso:15118:2:2013:MsgDef"
    # the eMAID of Josev's contract, presented once the chain (MO root) and the AuthorizationReq signature held
    assert report["identifications"] == [{"idToken": contract_emaid(josev_pki), "type": "eMAID",
                                          "source": "contract", "connector": 1, "outcome": "authorized",
                                          "text": report["identifications"][0]["text"]}], report["identifications"]
    answered = next(e for e in report["events"] if e["kind"] == "v2g_closed")["answer_times"]
    assert answered["PaymentServiceSelectionReq"]["count"] == 1 and answered["PaymentDetailsReq"]["count"] == 1
    assert answered["AuthorizationReq"]["count"] >= 1 and answered["CurrentDemandReq"]["count"] > 0
    assert answered["PaymentDetailsReq"]["max_ms"] < 2000  # chain check far inside Josev's 5 s
    stored = report["stored_sessions"][0]
    assert stored["status"] == "ended" and stored["energy_kwh"] > 0.0 and stored["stop_reason"] == "ev_stop"
    assert not report["final"]["contactors_closed"] and not report["final"]["modules_on"]
    assert time.monotonic() - t0 < 90


def test_a_contract_from_an_mo_root_the_station_lacks_is_refused_before_any_energy(josev, josev_pki, tmp_path):
    """The same run with the wrong root installed as MO root (the PKI's OEM root): PaymentDetails answers
    FAILED_CertChainError, the eMAID is never presented, nothing is energized."""
    report_path = tmp_path / "report.json"
    proc = start(josev, "pnc.json", "charged", report_path, env=f"PKI_PATH={josev_pki}",
                 settings=station_settings(josev_pki, tmp_path, mo_root="oemRootCACert.pem"))
    out, _ = proc.communicate(timeout=140)
    assert proc.returncode == 1 and report_path.exists(), out[-3000:]
    report = json.loads(report_path.read_text())
    assert report["v2g_closed"] == ["PaymentDetailsRes FAILED_CertChainError"], report["program_log_tail"][-2000:]
    assert report["identifications"] == [] and "cable_check" not in report["phases"]
    stored = report["stored_sessions"][0]
    assert stored["energy_kwh"] == 0.0 and stored["stop_reason"] == "error:EV_SESSION_REFUSED"
    assert not report["final"]["contactors_closed"] and not report["final"]["modules_on"]
