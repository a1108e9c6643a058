"""ISO 15118-2 certificate profiles (Annex F): one function that issues a certificate in any of them.

Every key is secp256r1, every signature ECDSA with SHA-256, every certificate X.509 v3. A root is
self-signed (CA, no path length); sub-CA 1 may sign one more CA (path length 1), sub-CA 2 only leaves (0);
a leaf is no CA. CA key usage: keyCertSign + cRLSign; SECC and OEM provisioning leaves: digitalSignature +
keyAgreement; the contract leaf also nonRepudiation. Both critical, as the standard asks. The subject names
the certificate (CN) and its PKI domain (DC: V2G, CPO, MO, OEM); a contract's CN is its eMAID.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ORGANISATION = "charger-hil test PKI"
COUNTRY = "US"


class Role(Enum):
    ROOT = "root"
    SUB_CA_1 = "sub-CA 1"
    SUB_CA_2 = "sub-CA 2"
    TLS_LEAF = "SECC or OEM provisioning leaf"
    CONTRACT_LEAF = "contract leaf"


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def subject_cn(self) -> str:
        return self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def subject(common_name: str, domain: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        x509.NameAttribute(NameOID.COUNTRY_NAME, COUNTRY),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, domain),
    ])


def _key_usage(role: Role) -> x509.KeyUsage:
    ca = role in (Role.ROOT, Role.SUB_CA_1, Role.SUB_CA_2)
    return x509.KeyUsage(digital_signature=not ca, content_commitment=role is Role.CONTRACT_LEAF,
                         key_encipherment=False, data_encipherment=False, key_agreement=not ca,
                         key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False)


def _basic_constraints(role: Role) -> x509.BasicConstraints:
    path_length = {Role.ROOT: None, Role.SUB_CA_1: 1, Role.SUB_CA_2: 0}
    if role in path_length:
        return x509.BasicConstraints(ca=True, path_length=path_length[role])
    return x509.BasicConstraints(ca=False, path_length=None)


def issue(role: Role, common_name: str, domain: str, *, issuer: Issued | None, days: int,
          not_before: datetime.datetime, key: ec.EllipticCurvePrivateKey | None = None,
          key_usage: x509.KeyUsage | None = None, ocsp_url: str | None = None) -> Issued:
    """A certificate of `role`, valid `days` from `not_before`; signed by `issuer` (None: self-signed root).
    `key_usage`: another than the profile's (a broken variant); `ocsp_url`: its AIA's OCSP responder."""
    if (issuer is None) != (role is Role.ROOT):
        raise ValueError("a root signs itself, anything else needs an issuer")
    key = key or new_key()
    name = subject(common_name, domain)
    signer_key = key if issuer is None else issuer.key
    builder = (x509.CertificateBuilder()
               .subject_name(name)
               .issuer_name(name if issuer is None else issuer.cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_before + datetime.timedelta(days=days))
               .add_extension(_basic_constraints(role), critical=True)
               .add_extension(key_usage or _key_usage(role), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    if ocsp_url is not None:  # OCPP names the certificate to the CSMS with this responder (Authorize, C07)
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)
