"""The rig CSMS's certificate authority for SignCertificate: signs a station's CSR with the test CA's root."""
from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from hil.csms.test_ca import TestCa, issued_by


def sign_csr(ca: TestCa, csr_pem: str, *, days: float = 2.0, common_name: str | None = None) -> str:
    """The chain (leaf, then the root) for a CertificateSigned; `common_name` overrides the CSR's (tests of
    a wrong identity)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    root = x509.load_pem_x509_certificate(ca.root_file.read_bytes())
    root_key = serialization.load_pem_private_key(ca.root_key_file.read_bytes(), None)
    subject = csr.subject if common_name is None else x509.Name(
        [x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = (x509.CertificateBuilder().subject_name(subject).issuer_name(root.subject).public_key(csr.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(issued_by(root), critical=False)
            .sign(root_key, hashes.SHA256()))
    return (leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM)).decode()
