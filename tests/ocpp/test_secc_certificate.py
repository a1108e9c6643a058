"""SignCertificate(V2GCertificate) and CertificateSigned(V2GCertificate): the SECC leaf over OCPP (issue #17)."""
from __future__ import annotations

import stat

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from ocpp.v201 import call

from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.certificates import CertificateRefused, CertificateStore
from controller.ocpp.secc_certificate import SeccCertificateSigning
from hil.csms.secc_signing import sign_secc_csr
from hil.pki.rig_pki import broken_secc, rig_pki
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(60)


def _signing(tmp_path, *, v2g_root: bool = True):
    store = CertificateStore(OcppConfig(url="ws://x", certificate_dir=str(tmp_path / "certs")), STATION)
    if v2g_root:
        store.install_root("V2GRootCertificate", rig_pki().v2g_root.cert_pem().decode())
    installed, notes = [], []
    signing = SeccCertificateSigning(store, STATION, lambda: "Rig CPO", lambda: None,
                                     lambda kind, info: notes.append(kind))
    signing.country = "US"
    signing.on_installed = lambda chain, key: installed.append((chain, key))
    return signing, installed, notes


def _attribute(name: x509.Name, oid) -> list[str]:
    return [a.value for a in name.get_attributes_for_oid(oid)]


def test_the_csr_follows_the_secc_profile_and_its_key_is_private(tmp_path):
    signing, _, _ = _signing(tmp_path)
    csr = x509.load_pem_x509_csr(signing.make_csr().encode())
    assert csr.is_signature_valid and csr.public_key().curve.name == "secp256r1"
    subject = csr.subject
    assert (_attribute(subject, NameOID.COMMON_NAME), _attribute(subject, NameOID.ORGANIZATION_NAME),
            _attribute(subject, NameOID.COUNTRY_NAME), _attribute(subject, NameOID.DOMAIN_COMPONENT)) == (
        [STATION], ["Rig CPO"], ["US"], ["CPO"])
    assert stat.S_IMODE(signing.pending_key_file.stat().st_mode) == 0o600


def test_a_leaf_signed_by_the_cpo_sub_ca_is_installed_with_its_key_0600_and_handed_to_tls(tmp_path):
    signing, installed, notes = _signing(tmp_path)
    status, info = signing.certificate_signed(sign_secc_csr(rig_pki(), signing.make_csr()))
    assert (status, info) == ("Accepted", None)
    leaf_file = signing.leaf_file
    assert installed == [(str(leaf_file), str(leaf_file))]
    assert stat.S_IMODE(leaf_file.stat().st_mode) == 0o600 and not signing.pending_key_file.exists()
    chain = x509.load_pem_x509_certificates(leaf_file.read_bytes())
    assert [c.subject for c in chain[1:]] == [rig_pki().cpo_sub2.cert.subject, rig_pki().cpo_sub1.cert.subject]
    assert b"PRIVATE KEY" in leaf_file.read_bytes()
    assert notes == ["ReconfigurationOfSecurityParameters"]


@pytest.mark.parametrize("case, reason", [
    ("no request", "InvalidMessageSeq"), ("no V2G root", "InvalidCertificate"),
    ("another key", "InvalidCertificate"), ("another V2G root", "InvalidCertificate")])
def test_a_wrong_v2g_chain_is_rejected_and_nothing_is_installed(tmp_path, case, reason):
    signing, installed, notes = _signing(tmp_path, v2g_root=case != "no V2G root")
    if case == "no request":
        helper, _, _ = _signing(tmp_path / "helper")
        chain = sign_secc_csr(rig_pki(), helper.make_csr())
    elif case == "another key":
        signing.make_csr()  # pending, but the chain is for the helper's key
        helper, _, _ = _signing(tmp_path / "helper")
        chain = sign_secc_csr(rig_pki(), helper.make_csr())
    elif case == "another V2G root":
        signing.make_csr()
        leaf, certs = broken_secc("untrusted")  # a whole CPO chain under another V2G root...
        from cryptography.hazmat.primitives import serialization
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs).decode()
        signing.pending_key_file.write_bytes(leaf.key_pem())  # ...for our key, so only the root is wrong
    else:
        chain = sign_secc_csr(rig_pki(), signing.make_csr())
    status, info = signing.certificate_signed(chain)
    assert status == "Rejected" and info["reason_code"] == reason
    assert installed == [] and not signing.leaf_file.exists()
    assert notes == ["InvalidChargingStationCertificate"]


def test_a_refusal_names_its_reason(tmp_path):
    signing, _, _ = _signing(tmp_path)
    with pytest.raises(CertificateRefused, match="no V2G certificate signing request"):
        signing.accept_signed(sign_secc_csr(rig_pki(), _signing(tmp_path / "h")[0].make_csr()))


@run_async
async def test_trigger_sign_v2g_certificate_then_certificate_signed_installs_the_secc_leaf(tmp_path):
    async with station_and_csms([FakeConnector(1)], certificate_dir=str(tmp_path / "certs")) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        installed = []
        service.security.v2g.on_installed = lambda chain, key: installed.append(chain)
        peer = csms.peer(STATION)
        root = await peer.call(call.InstallCertificate(certificate_type="V2GRootCertificate",
                                                       certificate=rig_pki().v2g_root.cert_pem().decode()))
        assert root.status == "Accepted"
        answer = await csms.trigger(STATION, "SignV2GCertificate")
        assert answer.status == "Accepted"
        csrs = await csms.wait_for(lambda: csms.csrs, 5)
        sign = [m for m in csms.calls("SignCertificate")]
        assert sign[-1]["certificateType"] == "V2GCertificate"
        result = await peer.call(call.CertificateSigned(certificate_chain=sign_secc_csr(rig_pki(), csrs[0]),
                                                        certificate_type="V2GCertificate"))
        assert result.status == "Accepted"
        assert installed == [str(service.security.v2g.leaf_file)]
    assert csms.violations == []


@run_async
async def test_get_installed_certificate_ids_names_the_secc_leaf_chain(tmp_path):
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp

    pki = rig_pki()
    chain = [pki.secc.cert, pki.cpo_sub2.cert, pki.cpo_sub1.cert]
    async with station_and_csms([FakeConnector(1)], certificate_dir=str(tmp_path / "certs")) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        peer = csms.peer(STATION)
        none = await peer.call(call.GetInstalledCertificateIds(certificate_type=["V2GCertificateChain"]))
        service.security.ocsp.leaf_chain = lambda: chain  # what the app hands over: the leaf TLS shows
        await peer.call(call.InstallCertificate(certificate_type="V2GRootCertificate",
                                                certificate=pki.v2g_root.cert_pem().decode()))
        found = await peer.call(call.GetInstalledCertificateIds(certificate_type=["V2GCertificateChain"]))
    assert none.status == "NotFound"
    [entry] = found.certificate_hash_data_chain
    assert entry["certificate_type"] == "V2GCertificateChain"
    expected = ocsp.OCSPRequestBuilder().add_certificate(chain[0], chain[1], hashes.SHA256()).build()
    assert entry["certificate_hash_data"]["issuer_key_hash"] == expected.issuer_key_hash.hex()
    assert entry["certificate_hash_data"]["serial_number"] == format(chain[0].serial_number, "x")
    assert [c["serial_number"] for c in entry["child_certificate_hash_data"]] == [
        format(c.serial_number, "x") for c in chain[1:]]  # sub-CA 1's issuer: the installed V2G root
    assert csms.violations == []



def test_without_certificate_signed_the_csr_is_sent_again_after_the_wait_doubled_at_most_repeat_times(
        tmp_path, monkeypatch):
    import asyncio

    from controller.ocpp import secc_certificate

    now = [1000.0]
    monkeypatch.setattr(secc_certificate.time, "monotonic", lambda: now[0])
    store = CertificateStore(OcppConfig(url="ws://x", certificate_dir=str(tmp_path / "certs")), STATION)
    signing = SeccCertificateSigning(store, STATION, lambda: "", lambda: None, lambda kind, info: None,
                                     retry_settings=lambda: (10.0, 2))
    sent = []

    async def send(payload):
        sent.append(now[0])

        class Answer:
            status = "Accepted"
        return Answer()

    async def turns():
        signing.request()
        for t in (1000.0, 1005.0, 1010.0, 1015.0, 1029.0, 1030.0, 1100.0, 1200.0):
            now[0] = t
            await signing.send_request(send)
    asyncio.run(turns())
    assert sent == [1000.0, 1010.0, 1030.0]  # then 10 s, then 20 s; CertSigningRepeatTimes 2: no fourth


def test_the_csr_is_made_in_a_child_process_and_this_one_never_imports_cryptography(tmp_path):
    """cryptography costs the controller about 9 MB of RSS for good (60 MB budget): a station waiting for its
    SECC leaf makes the key and CSR in a child (csr_child.py). Before: a thread of this process, which also
    kept its loop free (a key and a file on the loop had stalled the rig's readings past their 0.2 s bound)."""
    import subprocess
    import sys
    code = f"""
import asyncio, sys
from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.certificates import CertificateStore
from controller.ocpp.secc_certificate import SeccCertificateSigning
store = CertificateStore(OcppConfig(url="ws://x", certificate_dir={str(tmp_path / "certs")!r}), "CS-1")
signing = SeccCertificateSigning(store, "CS-1", lambda: "Rig CPO", lambda: None, lambda kind, info: None)
signing.country = "US"
sent = []
async def send(payload):
    sent.append(payload)
async def turn():
    signing.request()
    await signing.send_request(send)
asyncio.run(turn())
print("cryptography" in sys.modules, len(sent))
print(sent[0].csr)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50, check=True)
    imported, count = done.stdout.splitlines()[0].split()
    assert (imported, count) == ("False", "1")
    csr = x509.load_pem_x509_csr("\n".join(done.stdout.splitlines()[1:]).encode())
    assert csr.is_signature_valid and _attribute(csr.subject, NameOID.DOMAIN_COMPONENT) == ["CPO"]
    assert _attribute(csr.subject, NameOID.COMMON_NAME) == ["CS-1"]
    assert _attribute(csr.subject, NameOID.COUNTRY_NAME) == ["US"]
    key_file = tmp_path / "certs" / "v2g-pending-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    from cryptography.hazmat.primitives import serialization
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert key.public_key().public_numbers() == csr.public_key().public_numbers()


def test_a_child_that_cannot_write_the_key_sends_no_csr_and_says_why(tmp_path, caplog):
    import asyncio
    signing, _, _ = _signing(tmp_path)
    signing.pending_key_file.parent.mkdir(parents=True, exist_ok=True)
    signing.pending_key_file.mkdir()  # the key's path is taken by a folder: the child cannot write it
    sent = []

    async def send(payload):
        sent.append(payload)

    async def turn():
        signing.request()
        await signing.send_request(send)
    with caplog.at_level("WARNING"):
        asyncio.run(turn())
    assert sent == [] and "the CSR child failed" in caplog.text
