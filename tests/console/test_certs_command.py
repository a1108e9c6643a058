"""`certs` lists the installed roots and the SECC leaf with the days each has left, and `status` warns 30 days
before the SECC leaf ends (issue #17)."""
from __future__ import annotations

import datetime
import json
import time
from types import SimpleNamespace

import pytest

from controller.app_cabinet_view import AppCabinetView
from controller.console.cabinet_view import CertificateInfo
from controller.console.commands.certs import expiry_warning
from controller.v2g.secc_leaf import SeccLeaf
from hil.pki.rig_pki import cpo_chain, rig_pki, write_secc_files
from tests.console.test_cabinet_view import FakeCabinet, _answers

pytestmark = pytest.mark.timeout(30)
DAY = 86400.0


def _leaf(days_left: float) -> CertificateInfo:
    return CertificateInfo("SECC leaf", "SECCCert", "CPOSubCA2", time.time() + days_left * DAY, "secc_chain.pem")


def test_certs_lists_use_subject_issuer_end_and_days_left():
    cabinet = FakeCabinet()
    cabinet.certificate_list = [CertificateInfo("V2GRootCertificate", "V2GRootCA", "V2GRootCA",
                                                time.time() + 3650.5 * DAY, "OCPP store"), _leaf(59.5)]
    text, answer = _answers(cabinet, ["certs", "json certs"])
    assert "V2GRootCertificate  V2GRootCA" in text and "SECC leaf" in text and "SECCCert" in text
    rows = json.loads(answer)["data"]["certificates"]
    assert [(r["use"], r["subject"], r["issuer"], r["days_left"]) for r in rows] == [
        ("V2GRootCertificate", "V2GRootCA", "V2GRootCA", 3650), ("SECC leaf", "SECCCert", "CPOSubCA2", 59)]
    assert "WARNING" not in text and json.loads(answer)["data"]["warning"] is None


def test_a_secc_leaf_ending_within_30_days_is_warned_of_in_certs_and_status():
    cabinet = FakeCabinet()
    cabinet.certificate_list = [_leaf(12.5)]
    certs, status, status_json = _answers(cabinet, ["certs", "status", "json status"])
    assert "WARNING the SECC leaf SECCCert ends in 12 days" in certs
    warning = [line for line in status.splitlines() if "WARNING" in line]
    assert warning == [certs.splitlines()[-1]]
    assert status.splitlines()[-1].startswith("network:")  # the network line stays last
    assert "ends in 12 days" in json.loads(status_json)["data"]["certificate_warning"]


def test_the_warning_starts_at_30_days_and_says_expired_after_the_end():
    now = time.time()
    assert expiry_warning([_leaf(31)], now) is None
    assert "ends in 29 days" in expiry_warning([_leaf(29.5)], now)
    assert "EXPIRED" in expiry_warning([_leaf(-1)], now)
    roots_only = [CertificateInfo("V2GRootCertificate", "R", "R", now + DAY, "OCPP store")]
    assert expiry_warning(roots_only, now) is None  # only the SECC leaf stops a service on its own


def test_no_certificates_says_so_and_status_has_no_warning():
    certs, status = _answers(FakeCabinet(), ["certs", "status"])
    assert certs.startswith("certificates: none installed")
    assert "WARNING" not in status


def test_the_app_side_reads_the_ocpp_roots_and_the_secc_leaf_file(tmp_path):
    pki = rig_pki()
    now = datetime.datetime.now(datetime.timezone.utc)
    sub1, sub2, leaf = cpo_chain(pki.v2g_root, now=now, secc_days=20)
    files = write_secc_files(tmp_path, leaf, [leaf.cert, sub2.cert, sub1.cert])
    store = SimpleNamespace(roots=lambda use: [pki.v2g_root.cert] if use == "V2GRootCertificate" else [])
    from controller.ocpp.ocsp_status import SeccOcspStatus
    no_ocsp = SeccOcspStatus(tmp_path / "ocsp")  # nothing kept: no status
    app = SimpleNamespace(ocpp=SimpleNamespace(security=SimpleNamespace(certificates=store, ocsp=no_ocsp)),
                          secc_leaf=SeccLeaf(str(files.chain), str(files.key), None))
    found = AppCabinetView(app).certificates()
    assert [(c.use, c.subject, c.issuer, c.source, c.status) for c in found] == [
        ("V2GRootCertificate", "V2GRootCA", "V2GRootCA", "OCPP store", ""),
        ("SECC leaf", "SECCCert", "CPOSubCA2", str(files.chain), "")]
    assert 19 <= (found[1].not_after - time.time()) / DAY <= 20
    assert "ends in 19 days" in expiry_warning(found, time.time())


def test_the_ocsp_status_is_shown_and_a_revoked_leaf_is_warned_of():
    cabinet = FakeCabinet()
    good = CertificateInfo("SECC leaf", "SECCCert", "CPOSubCA2", time.time() + 50 * DAY, "secc.pem",
                           "OCSP good until 2026-12-04")
    cabinet.certificate_list = [good]
    text, = _answers(cabinet, ["certs"])
    assert "OCSP good until 2026-12-04" in text and "WARNING" not in text
    revoked = CertificateInfo("SECC leaf", "SECCCert", "CPOSubCA2", time.time() + 50 * DAY, "secc.pem", "OCSP revoked")
    assert "is REVOKED" in expiry_warning([revoked], time.time())


def test_the_app_side_reads_the_kept_ocsp_answer_for_the_leaf(tmp_path):
    from controller.ocpp.ocsp_status import SeccOcspStatus
    from hil.csms.role_ocsp import OcspResponder

    pki = rig_pki()
    chain = [pki.secc.cert, pki.cpo_sub2.cert]
    responder = OcspResponder()
    responder.know(chain[0], chain[1], pki.cpo_sub2.key)
    ocsp_status = SeccOcspStatus(tmp_path)
    ocsp_status.file.write_bytes(responder._response(chain[0], chain[1], pki.cpo_sub2.key))
    files = write_secc_files(tmp_path / "leaf", pki.secc, pki.secc_chain())
    app = SimpleNamespace(ocpp=SimpleNamespace(security=SimpleNamespace(
        certificates=SimpleNamespace(roots=lambda use: []), ocsp=ocsp_status)),
        secc_leaf=SeccLeaf(str(files.chain), str(files.key), None))
    [leaf] = AppCabinetView(app).certificates()
    assert leaf.status.startswith("OCSP good until ")
