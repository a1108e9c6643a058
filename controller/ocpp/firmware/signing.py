"""The firmware's signature (OCPP 2.0.1 L01): the signing certificate must lead to an installed
ManufacturerRootCertificate, and the signature over the whole file must be that certificate's.

The signature is base64 of an RSA PKCS#1 v1.5 or an ECDSA (DER) signature over the SHA-256 of the file. The file
is hashed in pieces, so a bundle of hundreds of MB is never read into memory at once.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from controller.ocpp.certificates import is_ca, valid_now  # the CSMS roots' own checks

MAX_CHAIN_DEPTH = 5
CHUNK = 1 << 20


class SigningCertificateRefused(ValueError):
    """The signing certificate is not one this station trusts now; str(self) says why."""


def _fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def check_signing_certificate(pem: str, roots: list[x509.Certificate],
                              now: datetime.datetime | None = None) -> x509.Certificate:
    """The signing certificate (first of `pem`, which may carry intermediates), checked against `roots`."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        chain = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise SigningCertificateRefused(f"not a PEM certificate: {exc}") from None
    if not roots:
        raise SigningCertificateRefused("no ManufacturerRootCertificate is installed")
    anchors = {_fingerprint(root) for root in roots}
    cert = chain[0]
    for _ in range(MAX_CHAIN_DEPTH):
        if not valid_now(cert, now):
            raise SigningCertificateRefused(f"{cert.subject.rfc4514_string()} is not valid now")
        if _fingerprint(cert) in anchors:
            return chain[0]
        for issuer in (c for c in chain[1:] + roots if c.subject == cert.issuer and c is not cert):
            try:
                cert.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            if _fingerprint(issuer) not in anchors and not is_ca(issuer):
                raise SigningCertificateRefused("an issuer in the chain is not a CA")
            cert = issuer
            break
        else:
            raise SigningCertificateRefused("the certificate does not lead to an installed manufacturer root")
    raise SigningCertificateRefused("the certificate chain is too long")


def file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while piece := data.read(CHUNK):
            digest.update(piece)
    return digest.digest()


def signature_matches(cert: x509.Certificate, signature_b64: str, digest: bytes) -> bool:
    """True when `signature_b64` is the certificate key's signature over the SHA-256 `digest`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    key = cert.public_key()
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, digest, padding.PKCS1v15(), prehashed)
        else:
            return False
    except InvalidSignature:
        return False
    return True
