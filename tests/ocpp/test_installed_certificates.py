"""InstallCertificate / DeleteCertificate / GetInstalledCertificateIds (M03-M05): the installed CSMS roots are
what the link trusts; the last one in use is never deleted."""
from __future__ import annotations

import asyncio
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from ocpp.v201 import call

from hil.csms import CsmsSimulator
from hil.csms.test_ca import make_test_ca
from tests.ocpp.harness import PASSWORD, STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(60)


def _expected_hash(root_file) -> dict:
    root = x509.load_pem_x509_certificate(root_file.read_bytes())
    key = root.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"hash_algorithm": "SHA256", "issuer_name_hash": hashlib.sha256(root.subject.public_bytes()).hexdigest(),
            "issuer_key_hash": hashlib.sha256(key).hexdigest(), "serial_number": format(root.serial_number, "x")}


async def _ids(csms, types=None):
    return await csms.peer(STATION).call(call.GetInstalledCertificateIds(certificate_type=types))


@run_async
async def test_roots_are_listed_installed_and_deleted_and_the_link_trusts_exactly_them(tmp_path):
    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    csms = CsmsSimulator(password=PASSWORD, tls=ca)
    async with station_and_csms([FakeConnector(1)], csms=csms, certificate_dir=str(tmp_path / "certs")) as (
            service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        listed = await _ids(csms)
        assert listed.status == "Accepted"
        assert listed.certificate_hash_data_chain == [
            {"certificate_type": "CSMSRootCertificate", "certificate_hash_data": _expected_hash(ca.root_file)}]
        assert (await _ids(csms, ["V2GRootCertificate"])).status == "NotFound"

        last = await csms.peer(STATION).call(call.DeleteCertificate(certificate_hash_data=_expected_hash(ca.root_file)))
        assert last.status == "Failed"  # the only CSMS root while profile 2 checks the CSMS against it

        installed = await csms.peer(STATION).call(call.InstallCertificate(
            certificate_type="CSMSRootCertificate", certificate=other.root_file.read_text()))
        assert installed.status == "Accepted"
        assert len((await _ids(csms, ["CSMSRootCertificate"])).certificate_hash_data_chain) == 2
        deleted = await csms.peer(STATION).call(call.DeleteCertificate(
            certificate_hash_data=_expected_hash(ca.root_file)))
        assert deleted.status == "Accepted"
        again = await csms.peer(STATION).call(call.DeleteCertificate(
            certificate_hash_data=_expected_hash(ca.root_file)))
        assert again.status == "NotFound"

        boots = len(csms.calls("BootNotification"))
        await csms.stop()  # the next connection checks the CSMS against the other root only: refused
        await csms.start()
        await asyncio.sleep(1.0)
        assert not service.accepted and len(csms.calls("BootNotification")) == boots
    assert csms.violations == []


@run_async
async def test_a_certificate_that_is_no_root_is_rejected(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    csms = CsmsSimulator(password=PASSWORD, tls=ca)
    async with station_and_csms([FakeConnector(1)], csms=csms, certificate_dir=str(tmp_path / "certs")) as (
            service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        leaf = await csms.peer(STATION).call(call.InstallCertificate(
            certificate_type="V2GRootCertificate", certificate=ca.cert_file.read_text()))
        garbage = await csms.peer(STATION).call(call.InstallCertificate(
            certificate_type="MORootCertificate", certificate="not a certificate"))
        ok = await csms.peer(STATION).call(call.InstallCertificate(
            certificate_type="ManufacturerRootCertificate", certificate=ca.root_file.read_text()))
        kinds = [c["certificate_type"] for c in (await _ids(csms)).certificate_hash_data_chain]
    assert leaf.status == "Rejected" and leaf.status_info["reason_code"] == "InvalidCertificate"
    assert garbage.status == "Rejected" and ok.status == "Accepted"
    assert sorted(kinds) == ["CSMSRootCertificate", "ManufacturerRootCertificate"]
    assert csms.violations == []


@run_async
async def test_installed_roots_outlive_a_restart(tmp_path):
    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    csms = CsmsSimulator(password=PASSWORD, tls=ca)
    async with station_and_csms([FakeConnector(1)], csms=csms, certificate_dir=str(tmp_path / "certs")) as (
            service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        await csms.peer(STATION).call(call.InstallCertificate(
            certificate_type="V2GRootCertificate", certificate=other.root_file.read_text()))
    csms = CsmsSimulator(password=PASSWORD, tls=ca)
    async with station_and_csms([FakeConnector(1)], csms=csms, certificate_dir=str(tmp_path / "certs")) as (
            service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        listed = await _ids(csms, ["V2GRootCertificate"])
    assert listed.certificate_hash_data_chain[0]["certificate_hash_data"] == _expected_hash(other.root_file)


@pytest.mark.parametrize("algorithm", ["SHA384", "SHA512"])
def test_a_root_is_found_by_the_hash_algorithm_the_csms_chose(tmp_path, algorithm):
    from controller.formats.cabinet.config import OcppConfig
    from controller.ocpp.certificates import CertificateStore, hash_data

    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    store = CertificateStore(OcppConfig(url="wss://x", security_profile=2, csms_root_file=str(ca.root_file),
                                        certificate_dir=str(tmp_path / "certs")), STATION)
    store.install_root("MORootCertificate", other.root_file.read_text())
    root = x509.load_pem_x509_certificate(other.root_file.read_bytes())
    wanted = hash_data(root, root, algorithm)
    assert len(wanted["issuerNameHash"]) == {"SHA384": 96, "SHA512": 128}[algorithm]
    assert store.delete(wanted, keep_last_csms_root=True) == "Accepted"
    assert store.delete(wanted, keep_last_csms_root=True) == "NotFound"
    assert store.delete({**wanted, "hashAlgorithm": "MD5"}, keep_last_csms_root=True) == "NotFound"


def test_the_configured_root_is_copied_in_once_and_again_only_when_the_file_changes(tmp_path):
    from controller.formats.cabinet.config import OcppConfig
    from controller.ocpp.certificates import CertificateStore, hash_data

    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    configured = tmp_path / "root.pem"
    configured.write_bytes(ca.root_file.read_bytes() + other.root_file.read_bytes())
    cfg = OcppConfig(url="wss://x", security_profile=2, csms_root_file=str(configured),
                     certificate_dir=str(tmp_path / "certs"))
    store = CertificateStore(cfg, STATION)
    assert len(store.roots("CSMSRootCertificate")) == 2
    root = x509.load_pem_x509_certificate(other.root_file.read_bytes())
    assert store.delete(hash_data(root, root), keep_last_csms_root=True) == "Accepted"
    assert len(CertificateStore(cfg, STATION).roots("CSMSRootCertificate")) == 1  # the CSMS's deletion stays
    configured.write_bytes(other.root_file.read_bytes())  # changed on site
    assert len(CertificateStore(cfg, STATION).roots("CSMSRootCertificate")) == 2
