"""SignCertificate / CertificateSigned (A02): the station's own key and CSR, the chain checked, the next
profile-3 connection shows the new certificate."""
from __future__ import annotations

import asyncio
import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from ocpp.v201 import call

from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.certificates import CertificateRefused, CertificateStore
from hil.csms import CsmsSimulator
from hil.csms.csr_signing import sign_csr
from hil.csms.test_ca import issue_station_cert, make_test_ca
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(60)


def _store(tmp_path, ca, **changes) -> CertificateStore:
    cfg = OcppConfig(url="wss://x", security_profile=2, csms_root_file=str(ca.root_file),
                     certificate_dir=str(tmp_path / "certs"), **changes)
    return CertificateStore(cfg, STATION)


def test_the_csr_names_the_station_and_its_key_is_private(tmp_path):
    store = _store(tmp_path, make_test_ca(tmp_path / "ca"))
    csr = x509.load_pem_x509_csr(store.make_csr("Charger Org").encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == STATION
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Charger Org"
    assert csr.public_key().curve.name == "secp256r1"
    assert stat.S_IMODE(store.pending_key_file.stat().st_mode) == 0o600


def test_a_signed_chain_is_installed_with_its_key_in_one_private_file(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    store = _store(tmp_path, ca)
    store.accept_signed(sign_csr(ca, store.make_csr("")))
    assert stat.S_IMODE(store.station_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in store.station_file.read_bytes() and not store.pending_key_file.exists()
    assert store.tls_context(3) is not None  # loads as a client certificate


@pytest.mark.parametrize("case,reason", [
    ("no request", "InvalidMessageSeq"), ("another key", "InvalidCertificate"),
    ("another name", "InvalidCertificate"), ("another CA", "InvalidCertificate"), ("garbage", "InvalidCertificate")])
def test_a_wrong_chain_is_refused_and_nothing_changes(tmp_path, case, reason):
    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    store = _store(tmp_path, ca)
    helper = _store(tmp_path / "helper", ca)
    csr = "" if case == "no request" else store.make_csr("")
    chain = {"no request": lambda: sign_csr(ca, helper.make_csr("")),
             "another key": lambda: sign_csr(ca, helper.make_csr("")),
             "another name": lambda: sign_csr(ca, csr, common_name="SOMEONE-ELSE"),
             "another CA": lambda: sign_csr(other, csr),
             "garbage": lambda: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}[case]()
    with pytest.raises(CertificateRefused) as refused:
        store.accept_signed(chain)
    assert refused.value.reason == reason
    assert not store.station_file.exists()


@run_async
async def test_sign_certificate_then_the_next_profile_3_link_uses_the_new_certificate(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    cert, key = issue_station_cert(ca, STATION, tmp_path / "station")
    csms = CsmsSimulator(tls=ca, client_certs=True)
    async with station_and_csms([FakeConnector(1)], csms=csms, security_profile=3, client_cert_file=str(cert),
                                client_key_file=str(key), certificate_dir=str(tmp_path / "certs"),
                                vendor="Rig Org") as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        answer = await csms.trigger(STATION, "SignChargingStationCertificate")
        assert answer.status == "Accepted"
        csr_pem = await csms.wait_for(lambda: csms.csrs, 5)
        csr = x509.load_pem_x509_csr(csr_pem[0].encode())
        assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Rig Org"
        chain = sign_csr(ca, csr_pem[0])
        result = await csms.peer(STATION).call(call.CertificateSigned(
            certificate_chain=chain, certificate_type="ChargingStationCertificate"))
        assert result.status == "Accepted"
        first_serial = csms.peer_certs[-1]["serialNumber"]
        await csms.stop()  # the next connection
        await csms.start()
        await csms.wait_for(lambda: service.accepted and len(csms.peer_certs) >= 2, 10)
    new_serial = format(x509.load_pem_x509_certificate(chain.encode()).serial_number, "X")
    assert first_serial != new_serial.zfill(len(first_serial))
    assert csms.peer_certs[-1]["serialNumber"].lstrip("0") == new_serial.lstrip("0")
    assert csms.violations == []


@run_async
async def test_certificate_signed_for_another_key_is_rejected_with_a_reason(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    csms = CsmsSimulator(tls=ca, password="rig-password-0123456789")
    async with station_and_csms([FakeConnector(1)], csms=csms, certificate_dir=str(tmp_path / "certs")) as (
            service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        stranger = _store(tmp_path / "stranger", ca)
        result = await csms.peer(STATION).call(call.CertificateSigned(
            certificate_chain=sign_csr(ca, stranger.make_csr(""))))
    assert result.status == "Rejected" and result.status_info["reason_code"] == "InvalidMessageSeq"
    assert csms.violations == []


def _aged_station_cert(ca, folder, *, used_days: float, left_days: float):
    """A station certificate issued `used_days` ago that ends in `left_days`."""
    import datetime

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    root = x509.load_pem_x509_certificate(ca.root_file.read_bytes())
    root_key = serialization.load_pem_private_key(ca.root_key_file.read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, STATION)]))
            .issuer_name(root.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=used_days))
            .not_valid_after(now + datetime.timedelta(days=left_days)).sign(root_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "s.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "s.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return str(folder / "s.pem"), str(folder / "s.key")


@pytest.mark.parametrize("used_days,left_days,renews", [(9.0, 1.0, True), (0.1, 2.0, False), (300, 60, False)])
def test_the_station_asks_for_a_new_certificate_before_its_own_ends(tmp_path, used_days, left_days, renews):
    from controller.ocpp.security import StationSecurity

    ca = make_test_ca(tmp_path / "ca")
    cert, key = _aged_station_cert(ca, tmp_path / "station", used_days=used_days, left_days=left_days)
    cfg = OcppConfig(url="wss://x", security_profile=3, csms_root_file=str(ca.root_file), client_cert_file=cert,
                     client_key_file=key, certificate_dir=str(tmp_path / "certs"))
    security = StationSecurity(cfg, STATION, None, lambda: None)
    assert security.renew_if_expiring(3) is renews
    assert security.renew_if_expiring(2) is False  # only the certificate a profile-3 link shows


@run_async
async def test_an_ending_certificate_is_renewed_at_link_up_without_being_asked(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    cert, key = _aged_station_cert(ca, tmp_path / "station", used_days=9.0, left_days=1.0)
    csms = CsmsSimulator(tls=ca, client_certs=True)
    async with station_and_csms([FakeConnector(1)], csms=csms, security_profile=3, client_cert_file=cert,
                                client_key_file=key, certificate_dir=str(tmp_path / "certs")) as (service, csms):
        csr = (await csms.wait_for(lambda: csms.csrs, 5))[0]
        result = await csms.peer(STATION).call(call.CertificateSigned(certificate_chain=sign_csr(ca, csr)))
    assert result.status == "Accepted" and csms.violations == []


@run_async
async def test_a_new_certificate_the_csms_refuses_is_given_up_for_the_one_before(tmp_path):
    ca, other = make_test_ca(tmp_path / "ca"), make_test_ca(tmp_path / "other")
    cert, key = issue_station_cert(ca, STATION, tmp_path / "station")
    csms = CsmsSimulator(tls=ca, client_certs=True)  # trusts station certificates of `ca` only
    async with station_and_csms([FakeConnector(1)], csms=csms, security_profile=3, client_cert_file=str(cert),
                                client_key_file=str(key), certificate_dir=str(tmp_path / "certs")) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        store = service.security.certificates
        await csms.peer(STATION).call(call.InstallCertificate(certificate_type="CSMSRootCertificate",
                                                              certificate=other.root_file.read_text()))
        answer = await csms.trigger(STATION, "SignChargingStationCertificate")
        assert answer.status == "Accepted"
        csr = (await csms.wait_for(lambda: csms.csrs, 5))[0]
        signed = await csms.peer(STATION).call(call.CertificateSigned(certificate_chain=sign_csr(other, csr)))
        assert signed.status == "Accepted" and store.on_trial()  # the chain is fine for the station...
        boots = len(csms.calls("BootNotification"))
        await csms.stop()
        await csms.start()  # ...but the CSMS does not take it: three refusals, then the configured one again
        await csms.wait_for(lambda: len(csms.calls("BootNotification")) > boots, 15)
        assert not store.station_file.exists() and not store.on_trial()
        kinds = [m.payload["type"] for m in service.queue.pending()] + \
            [e["type"] for e in csms.calls("SecurityEventNotification")]
        assert "InvalidChargingStationCertificate" in kinds
    assert csms.violations == []


def test_a_certificate_that_connected_is_kept_and_the_one_before_deleted(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    store = _store(tmp_path, ca)
    store.accept_signed(sign_csr(ca, store.make_csr("")))
    store.confirm()
    first = store.station_file.read_bytes()
    store.accept_signed(sign_csr(ca, store.make_csr("")))
    assert store.on_trial() and store.previous_file.read_bytes() == first
    store.revert()
    assert store.station_file.read_bytes() == first and not store.previous_file.exists()
    store.accept_signed(sign_csr(ca, store.make_csr("")))
    store.confirm()
    assert store.station_file.read_bytes() != first and not store.previous_file.exists() and not store.on_trial()


@run_async
async def test_sign_certificate_is_asked_again_for_the_same_key_until_the_repeats_run_out(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    csms = CsmsSimulator(tls=ca, password="rig-password-0123456789")
    async with station_and_csms([FakeConnector(1)], csms=csms, certificate_dir=str(tmp_path / "certs")) as (
            service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        for name, value in (("CertSigningWaitMinimum", "1"), ("CertSigningRepeatTimes", "1")):
            answer = await csms.set_variables(STATION, [{"component": {"name": "SecurityCtrlr"},
                                                          "variable": {"name": name}, "attributeValue": value}])
            assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
        await csms.trigger(STATION, "SignChargingStationCertificate")
        await csms.wait_for(lambda: len(csms.csrs) >= 2, 5)  # 1 s later, no CertificateSigned came
        await asyncio.sleep(2.5)  # the next would be 2 s after that: no repeat is left
        assert len(csms.csrs) == 2
        keys = {x509.load_pem_x509_csr(c.encode()).public_key().public_numbers() for c in csms.csrs}
        assert len(keys) == 1  # the same key: a late answer to the first CSR still fits
        result = await csms.peer(STATION).call(call.CertificateSigned(certificate_chain=sign_csr(ca, csms.csrs[0])))
    assert result.status == "Accepted" and csms.violations == []


def test_a_failing_disk_never_ends_the_link_bookkeeping(tmp_path, monkeypatch):
    from controller.ocpp.security import StationSecurity

    ca = make_test_ca(tmp_path / "ca")
    cert, key = issue_station_cert(ca, STATION, tmp_path / "station")
    cfg = OcppConfig(url="wss://x", security_profile=3, csms_root_file=str(ca.root_file), client_cert_file=str(cert),
                     client_key_file=str(key), certificate_dir=str(tmp_path / "certs"))
    security = StationSecurity(cfg, STATION, None, lambda: None)
    security.certificates.accept_signed(sign_csr(ca, security.certificates.make_csr("")))

    def broken(*_):
        raise OSError(28, "No space left on device")
    for name in ("revert", "confirm"):
        monkeypatch.setattr(security.certificates, name, broken)
    for _ in range(3):
        security.link_failed(3, ConnectionResetError())
    security.link_up(3)  # both only log
