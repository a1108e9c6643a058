"""The rig's test PKI follows the ISO 15118-2 certificate profiles, and its broken variants are broken."""
from __future__ import annotations

import datetime
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hil.pki.rig_pki import broken_secc, rig_pki, write_secc_files


def _ext(cert, kind):
    return cert.extensions.get_extension_for_class(kind)


def _domain(cert) -> str:
    return cert.subject.get_attributes_for_oid(NameOID.DOMAIN_COMPONENT)[0].value


def test_every_certificate_is_p256_ecdsa_sha256_v3():
    pki = rig_pki()
    for issued in vars(pki).values():
        cert = issued.cert
        assert cert.version is x509.Version.v3
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp256r1"
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


@pytest.mark.parametrize("name, ca, path_length, domain", [
    ("v2g_root", True, None, "V2G"), ("cpo_sub1", True, 1, "V2G"), ("cpo_sub2", True, 0, "V2G"),
    ("secc", False, None, "CPO"), ("mo_root", True, None, "MO"), ("mo_sub1", True, 1, "MO"),
    ("mo_sub2", True, 0, "MO"), ("contract", False, None, "MO"), ("oem_root", True, None, "OEM"),
    ("oem_sub1", True, 1, "OEM"), ("oem_sub2", True, 0, "OEM"), ("oem_provisioning", False, None, "OEM"),
])
def test_profiles(name, ca, path_length, domain):
    cert = getattr(rig_pki(), name).cert
    constraints = _ext(cert, x509.BasicConstraints)
    usage = _ext(cert, x509.KeyUsage)
    assert constraints.critical and usage.critical
    assert (constraints.value.ca, constraints.value.path_length) == (ca, path_length)
    assert (usage.value.key_cert_sign, usage.value.crl_sign) == (ca, ca)
    assert usage.value.digital_signature is not ca
    assert usage.value.content_commitment is (name == "contract")
    assert _domain(cert) == domain
    assert _ext(cert, x509.SubjectKeyIdentifier)


def test_chains_link_up_to_their_roots():
    pki = rig_pki()
    for chain, root in ((pki.secc_chain(), pki.v2g_root), (pki.contract_chain(), pki.mo_root),
                        ([pki.oem_provisioning.cert, pki.oem_sub2.cert, pki.oem_sub1.cert], pki.oem_root)):
        for child, parent in zip(chain, chain[1:] + [root.cert]):
            child.verify_directly_issued_by(parent)
        root.cert.verify_directly_issued_by(root.cert)


def test_secc_leaf_is_valid_now_for_60_days_and_the_contract_names_the_emaid():
    pki = rig_pki()
    now = datetime.datetime.now(datetime.timezone.utc)
    secc = pki.secc.cert
    assert secc.not_valid_before_utc <= now < secc.not_valid_after_utc
    assert secc.not_valid_after_utc - secc.not_valid_before_utc == datetime.timedelta(days=60)
    assert pki.emaid == "USCPIC0000001X"
    assert pki.contract.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == pki.emaid


def test_made_once_per_process():
    assert rig_pki() is rig_pki()


def test_broken_variants():
    pki = rig_pki()
    expired, chain = broken_secc("expired")
    assert expired.cert.not_valid_after_utc < datetime.datetime.now(datetime.timezone.utc)
    expired.cert.verify_directly_issued_by(pki.cpo_sub2.cert)
    assert chain[1:] == pki.secc_chain()[1:]
    _, foreign = broken_secc("untrusted")
    assert foreign[-1].issuer == pki.v2g_root.cert.subject  # same name, another key
    with pytest.raises(Exception):
        foreign[-1].verify_directly_issued_by(pki.v2g_root.cert)
    with pytest.raises(ValueError, match="unknown broken SECC variant"):
        broken_secc("bad-signature")


def test_secc_key_file_is_0600(tmp_path):
    pki = rig_pki()
    (tmp_path / "secc_key.pem").write_text("old")
    (tmp_path / "secc_key.pem").chmod(0o644)
    files = write_secc_files(tmp_path, pki.secc, pki.secc_chain())
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert files.chain.read_bytes().count(b"BEGIN CERTIFICATE") == 3
