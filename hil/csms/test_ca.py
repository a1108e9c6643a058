"""A throw-away CA and server certificate for the rig's wss CSMS (security profile 2), made per run."""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TestCa:
    root_file: Path  # what the station trusts (ocpp.csms_root_file)
    cert_file: Path  # the CSMS's certificate, signed by the root
    key_file: Path
    root_key_file: Path  # signs station certificates for profile 3 (issue_station_cert)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "charger rig"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_test_ca(folder: Path, host: str = "127.0.0.1") -> TestCa:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=2)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (x509.CertificateBuilder().subject_name(_name("rig CSMS root")).issuer_name(_name("rig CSMS root"))
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            # key identifiers: two test CAs share one name, and OpenSSL tells their certificates apart by these
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(issued_by(root), critical=False)
            .sign(root_key, hashes.SHA256()))
    ca = TestCa(folder / "csms-root.pem", folder / "csms.pem", folder / "csms.key", folder / "csms-root.key")
    ca.root_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    ca.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca.key_file.write_bytes(_pem_key(key))
    ca.root_key_file.write_bytes(_pem_key(root_key))
    return ca


def issued_by(root: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
        root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def issue_station_cert(ca: TestCa, station_id: str, folder: Path) -> tuple[Path, Path]:
    """Profile 3: a client certificate for the station, its common name the station's identity."""
    root = x509.load_pem_x509_certificate(ca.root_file.read_bytes())
    root_key = serialization.load_pem_private_key(ca.root_key_file.read_bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(station_id)).issuer_name(root.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(issued_by(root), critical=False)
            .sign(root_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / f"{station_id}.pem", folder / f"{station_id}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(_pem_key(key))
    return cert_file, key_file
