"""The rig's firmware PKI, made per run: a manufacturer root (what the station gets by InstallCertificate as its
ManufacturerRootCertificate) and a firmware signing certificate it issued, whose key signs the bundles."""
from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hil.csms.test_ca import issued_by


@dataclass(frozen=True)
class FirmwarePki:
    root_pem: str  # InstallCertificate ManufacturerRootCertificate
    signing_pem: str  # UpdateFirmware's signingCertificate
    signing_key: ec.EllipticCurvePrivateKey

    def sign(self, data: bytes) -> str:
        """UpdateFirmware's signature: base64 of ECDSA P-256 / SHA-256 over the whole file."""
        return base64.b64encode(self.signing_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "charger rig manufacturer"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_firmware_pki(valid_days: float = 2.0) -> FirmwarePki:
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=valid_days)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("rig manufacturer root")
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    signing = (x509.CertificateBuilder().subject_name(_name("rig firmware signing")).issuer_name(root.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(issued_by(root), critical=False)
               .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return FirmwarePki(root.public_bytes(pem).decode("ascii"), signing.public_bytes(pem).decode("ascii"), key)
