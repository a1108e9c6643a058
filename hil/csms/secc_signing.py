"""The rig CSMS as the CPO's certificate authority for SignCertificate(V2GCertificate): the SECC's CSR is signed
with the rig PKI's CPO sub-CA 2 into an ISO 15118-2 SECC leaf (ECDSA P-256, not a CA, digitalSignature and
keyAgreement, 60 days), answered with the chain leaf, CPO sub-CA 2, CPO sub-CA 1 (the car holds the V2G root)."""
from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from hil.pki.rig_pki import V2gPki

SECC_DAYS = 60
OCSP_URL = "http://127.0.0.1:8080/ocsp/cpo-sub-ca-2"  # the AIA the station asks the CSMS about (GetCertificateStatus)


def sign_secc_csr(pki: V2gPki, csr_pem: str, *, days: float = SECC_DAYS) -> str:
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    if not csr.is_signature_valid:
        raise ValueError("the CSR's signature does not verify")
    issuer = pki.cpo_sub2
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=1)
    leaf = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuer.cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL))]),
                critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                           critical=False)
            .sign(issuer.key, hashes.SHA256()))
    chain = [leaf, pki.cpo_sub2.cert, pki.cpo_sub1.cert]
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain).decode("ascii")
