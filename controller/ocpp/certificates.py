"""The station's certificates (OCPP 2.0.1 block A and M): its own key and certificate, and installed roots.

Files under one folder (ocpp.certificate_dir):
  roots/<use>/<sha256 of the DER>.pem   installed root certificates, one per file
  station.pem                           the certificate chain the CSMS signed, followed by its private key
  pending-key.pem                       the key of the CSR still waiting for its CertificateSigned
  station-previous.pem, station.trial   the certificate before, kept until a link with the new one was up
Keys are written 0600. Every file is written whole to a temporary name and renamed over the old one, so a
crash leaves the old file or the new one, never half of either; chain and key share one file for that reason.

The CSMS roots start as the configured csms_root_file, copied in at the first start (and again when the
file's content changes); InstallCertificate / DeleteCertificate change them and the link trusts exactly
those. The last CSMS root is never deleted while a link (or a network profile in the priority) needs it.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib
import logging
import re
import os
import shutil
import ssl
import tempfile
import uuid
import weakref
from pathlib import Path

from controller.formats.cabinet.config import ConfigError, OcppConfig
from controller.ocpp.csr_child import build_csr, csr_in_child

log = logging.getLogger(__name__)


class _Deferred:
    """A module imported at its first use. cryptography costs about 8 MB of RSS (against a 60 MB budget) and a
    profile-2 link needs none of it: the CSMS roots are read, copied and trusted with ssl alone (root_ders)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)


x509 = _Deferred("cryptography.x509")
hashes = _Deferred("cryptography.hazmat.primitives.hashes")
serialization = _Deferred("cryptography.hazmat.primitives.serialization")
ec = _Deferred("cryptography.hazmat.primitives.asymmetric.ec")
ed448 = _Deferred("cryptography.hazmat.primitives.asymmetric.ed448")
ed25519 = _Deferred("cryptography.hazmat.primitives.asymmetric.ed25519")
rsa = _Deferred("cryptography.hazmat.primitives.asymmetric.rsa")
crypto_errors = _Deferred("cryptography.exceptions")
PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def pem_ders(text: bytes) -> list[bytes]:
    """The DER of every PEM certificate in `text`, each checked by OpenSSL (ssl); ValueError when none is or
    one is not a certificate."""
    ders = [ssl.PEM_cert_to_DER_cert(block.decode("ascii")) for block in PEM_CERTIFICATE.findall(text)]
    if not ders:
        raise ValueError("no PEM certificate found")
    try:
        for der in ders:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=der)
    except ssl.SSLError as exc:
        raise ValueError(f"not a certificate: {exc.reason or exc}") from None
    return ders

ROOT_USES = ("CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate")
MAX_ROOTS_PER_USE = 20  # a CSMS that keeps installing cannot fill the disk
MAX_CHAIN_DEPTH = 5


class CertificateRefused(Exception):
    """A certificate the station does not take; `reason` is the spec's reasonCode, str(self) says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


HASH_ALGORITHMS = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}


def hash_data(cert: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256") -> dict:
    """CertificateHashData (camelCase): the hash of the issuer's DER name and of its public key, and the serial."""
    digest = HASH_ALGORITHMS[algorithm]
    return {"hashAlgorithm": algorithm,
            "issuerNameHash": digest(cert.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": digest(_key_bits(issuer.public_key())).hexdigest(),
            "serialNumber": format(cert.serial_number, "x")}


def _key_bits(key) -> bytes:
    """The subjectPublicKey bit string's content, as OCSP's issuerKeyHash hashes it."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """The whole file or the old one: written under a temporary name, synced, renamed over."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def valid_now(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _spki(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def signed_for_request(chain_pem: str, pending_key_file: Path, common_name: str, request: str
                       ) -> tuple[list[x509.Certificate], bytes]:
    """A CertificateSigned chain checked against the request it answers: one pending, a PEM chain, a leaf for the
    pending key with our common name. The chain and the pending key's PEM; CertificateRefused says why not."""
    if not pending_key_file.exists():
        raise CertificateRefused("InvalidMessageSeq", f"no {request} is pending")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem.encode())
    except ValueError as exc:
        raise CertificateRefused("InvalidCertificate", f"not a PEM certificate chain: {exc}") from None
    key_pem = pending_key_file.read_bytes()
    key = serialization.load_pem_private_key(key_pem, None)
    leaf = chain[0]
    if _spki(leaf.public_key()) != _spki(key.public_key()):
        raise CertificateRefused("InvalidCertificate", "the certificate is not for the key of our request")
    names = [a.value for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    if names != [common_name]:
        raise CertificateRefused("InvalidCertificate", f"common name {names} is not {common_name!r}")
    return chain, key_pem


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


class CertificateStore:
    def __init__(self, cfg: OcppConfig, station_id: str):
        self.cfg = cfg
        self.station_id = station_id
        if cfg.certificate_dir:
            self.folder = Path(cfg.certificate_dir)
            try:
                self._ready()
                probe = self.folder / ".writable"
                probe.touch()
                probe.unlink()
            except OSError as exc:
                raise ConfigError("ocpp.certificate_dir", f"cannot use {self.folder}: {exc.strerror}") from None
        else:  # a temporary folder, made only when something is written, removed with this store
            self.folder = Path(tempfile.gettempdir()) / f"ocpp-certs-{uuid.uuid4().hex}"
            weakref.finalize(self, shutil.rmtree, self.folder, True)
        self.station_file = self.folder / "station.pem"
        self.previous_file = self.folder / "station-previous.pem"
        self.trial_file = self.folder / "station.trial"  # the new certificate has not connected yet
        self.pending_key_file = self.folder / "pending-key.pem"
        self.seeded_file = self.folder / "configured-roots.sha256"  # which csms_root_file was copied in
        if cfg.security_profile >= 2 and cfg.csms_root_file:
            self._seed_csms_roots(Path(cfg.csms_root_file))

    def _ready(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _seed_csms_roots(self, source: Path) -> None:
        """Copy the configured roots in at the first start, and again whenever someone on site changed the
        file; not at every start, or a root the CSMS deleted would come back."""
        try:
            text = source.read_bytes()
            ders = pem_ders(text)
        except OSError as exc:
            raise ConfigError("ocpp.csms_root_file", f"cannot load {source}: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError("ocpp.csms_root_file", f"cannot load {source}: {exc}") from None
        digest = hashlib.sha256(text).hexdigest()
        if self.seeded_file.exists() and self.seeded_file.read_text().strip() == digest:
            return
        self._ready()
        for der in ders:
            self._write_root_der(ROOT_USES[0], der)
        write_atomically(self.seeded_file, digest.encode())

    # ---- roots: InstallCertificate / DeleteCertificate / GetInstalledCertificateIds ---------------------
    def _use_folder(self, use: str) -> Path:
        return self.folder / "roots" / use

    def _write_root(self, use: str, cert: x509.Certificate) -> None:
        self._write_root_der(use, cert.public_bytes(serialization.Encoding.DER))

    def _write_root_der(self, use: str, der: bytes) -> None:
        self._ready()
        folder = self._use_folder(use)
        folder.mkdir(parents=True, exist_ok=True)  # named by the SHA-256 of the DER, as _fingerprint gives it
        write_atomically(folder / f"{hashlib.sha256(der).hexdigest()}.pem", ssl.DER_cert_to_PEM_cert(der).encode())

    def root_ders(self, use: str) -> list[bytes]:
        """The installed roots of `use` as DER, read without cryptography (the link's every connect)."""
        folder = self._use_folder(use)
        found = []
        for path in sorted(folder.glob("*.pem")) if folder.is_dir() else ():
            try:
                found += pem_ders(path.read_bytes())
            except (OSError, ValueError):
                log.warning("OCPP: unreadable certificate %s skipped", path)
        return found

    def roots(self, use: str) -> list[x509.Certificate]:
        folder = self._use_folder(use)
        found = []
        for path in sorted(folder.glob("*.pem")) if folder.is_dir() else ():
            try:
                found.append(x509.load_pem_x509_certificate(path.read_bytes()))
            except (OSError, ValueError):
                log.warning("OCPP: unreadable certificate %s skipped", path)
        return found

    def install_root(self, use: str, pem: str) -> None:
        """InstallCertificate; CertificateRefused when the certificate is not a valid CA certificate now."""
        if use not in ROOT_USES:
            raise CertificateRefused("UnsupportedParam", f"no certificate use {use!r}")
        try:
            certs = x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            raise CertificateRefused("InvalidCertificate", f"not a PEM certificate: {exc}") from None
        if len(certs) != 1:
            raise CertificateRefused("InvalidCertificate", f"one certificate expected, got {len(certs)}")
        cert = certs[0]
        if not valid_now(cert, _now()):
            raise CertificateRefused("InvalidCertificate", "not valid now (expired or not yet valid)")
        if not is_ca(cert):
            raise CertificateRefused("InvalidCertificate", "not a CA certificate")
        present = {_fingerprint(c) for c in self.roots(use)}
        if _fingerprint(cert) not in present and len(present) >= MAX_ROOTS_PER_USE:
            raise CertificateRefused("OutOfStorage", f"already {MAX_ROOTS_PER_USE} {use}s installed")
        self._write_root(use, cert)

    def installed(self, uses: list[str] | None = None) -> list[dict]:
        """CertificateHashDataChain entries (camelCase) of the installed roots of `uses` (all when None)."""
        chains = []
        for use in ROOT_USES:
            if uses and use not in uses:
                continue
            for cert in self.roots(use):
                chains.append({"certificateType": use, "certificateHashData": hash_data(cert, self._issuer_of(cert))})
        return chains

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        """The installed certificate that signed `cert` (itself for a root); `cert` when none is known."""
        if cert.issuer == cert.subject:
            return cert
        for use in ROOT_USES:
            for candidate in self.roots(use):
                if candidate.subject == cert.issuer:
                    return candidate
        return cert

    def delete(self, wanted: dict, *, keep_last_csms_root: bool) -> str:
        """DeleteCertificate: Accepted, NotFound, or Failed (the station certificate, the last CSMS root in use)."""
        key = _hash_key(wanted)
        algorithm = key[0]  # the CSMS may hash with SHA384 or SHA512 too: compare in its algorithm
        if algorithm not in HASH_ALGORITHMS:
            return "NotFound"
        chain = self.station_chain()
        if chain and _hash_key(hash_data(chain[0], chain[1] if len(chain) > 1 else chain[0], algorithm)) == key:
            return "Failed"  # the station's own certificate is replaced by CertificateSigned, never deleted
        for use in ROOT_USES:
            for cert in self.roots(use):
                if _hash_key(hash_data(cert, self._issuer_of(cert), algorithm)) != key:
                    continue
                if use == ROOT_USES[0] and keep_last_csms_root and len(self.roots(use)) == 1:
                    return "Failed"  # the link checks the CSMS against it: without it the station would be cut off
                (self._use_folder(use) / f"{_fingerprint(cert)}.pem").unlink()
                return "Accepted"
        return "NotFound"

    # ---- the station's own certificate: SignCertificate / CertificateSigned ------------------------------
    def csr_subject(self, organization: str) -> list[tuple[str, str]]:
        """O = `organization` (when set), CN = the station's identity."""
        return ([("O", organization[:64])] if organization else []) + [("CN", self.station_id)]

    def make_csr(self, organization: str, *, new_key: bool = True) -> str:
        """A CSR for a new P-256 key (kept as pending) or, when asked again, for the pending one (a late
        CertificateSigned for the first CSR still fits). In this process: see make_csr_in_child."""
        self._ready()
        return build_csr(self.pending_key_file, self.csr_subject(organization), new_key)

    async def make_csr_in_child(self, organization: str, *, new_key: bool = True) -> str:
        """make_csr in a child process, so that the controller never imports cryptography for it."""
        self._ready()
        return await csr_in_child(self.pending_key_file, self.csr_subject(organization), new_key)

    def accept_signed(self, chain_pem: str) -> None:
        """CertificateSigned: check the chain against the pending key and the trusted roots, then install it
        (in use from the next connection). CertificateRefused says why not."""
        chain, key_pem = signed_for_request(chain_pem, self.pending_key_file, self.station_id,
                                            "certificate signing request")
        self._check_chain(chain)
        if self.station_file.exists() and not self.trial_file.exists():  # the one that connected: kept for a way back
            os.replace(self.station_file, self.previous_file)
        write_atomically(self.trial_file, b"")
        write_atomically(self.station_file, b"".join(_pem(c) for c in chain) + key_pem, 0o600)
        self.pending_key_file.unlink(missing_ok=True)

    def on_trial(self) -> bool:
        return self.trial_file.exists()

    def confirm(self) -> None:
        """A link with the new certificate is up: it stays, the one before goes."""
        if self.trial_file.exists():
            self.previous_file.unlink(missing_ok=True)
            self.trial_file.unlink()

    def revert(self) -> None:
        """The new certificate cannot connect: back to the one before (or the configured one)."""
        if self.previous_file.exists():
            os.replace(self.previous_file, self.station_file)
        else:
            self.station_file.unlink(missing_ok=True)
        self.trial_file.unlink(missing_ok=True)

    def _trusted(self) -> list[x509.Certificate]:
        """Who may sign the station's certificate: the CSMS roots and the CAs of the configured chain."""
        trusted = self.roots(ROOT_USES[0])
        if self.cfg.client_cert_file:
            try:
                trusted += [c for c in x509.load_pem_x509_certificates(Path(self.cfg.client_cert_file).read_bytes())
                            if is_ca(c)]
            except (OSError, ValueError):
                pass
        return trusted

    def _check_chain(self, chain: list[x509.Certificate], trusted: list[x509.Certificate] | None = None) -> None:
        """`chain` leads to one of `trusted` (default: who may sign the station's certificate)."""
        now, trusted = _now(), self._trusted() if trusted is None else trusted
        anchors = {_fingerprint(c) for c in trusted}
        cert = chain[0]
        for _ in range(MAX_CHAIN_DEPTH):
            if not valid_now(cert, now):
                raise CertificateRefused("InvalidCertificate", f"{cert.subject.rfc4514_string()} is not valid now")
            if _fingerprint(cert) in anchors:
                return
            issuers = [c for c in chain[1:] + trusted if c.subject == cert.issuer and c is not cert]
            for issuer in issuers:
                try:
                    cert.verify_directly_issued_by(issuer)
                except (ValueError, TypeError, crypto_errors.InvalidSignature):
                    continue
                if _fingerprint(issuer) in anchors:
                    if not valid_now(issuer, now):
                        raise CertificateRefused("InvalidCertificate", "the root is not valid now")
                    return
                if not is_ca(issuer):
                    raise CertificateRefused("InvalidCertificate", "an issuer in the chain is not a CA")
                cert = issuer
                break
            else:
                raise CertificateRefused("InvalidCertificate", "the chain does not lead to a trusted root")
        raise CertificateRefused("InvalidCertificate", "the chain is too long")

    def client_certificate(self) -> x509.Certificate | None:
        """The certificate a profile-3 link shows: the signed one, else the configured one."""
        chain = self.station_chain()
        if chain:
            return chain[0]
        try:
            return x509.load_pem_x509_certificates(Path(self.cfg.client_cert_file).read_bytes())[0]
        except (OSError, ValueError, IndexError):
            return None

    def station_chain(self) -> list[x509.Certificate]:
        if not self.station_file.exists():
            return []
        try:
            return x509.load_pem_x509_certificates(self.station_file.read_bytes())
        except (OSError, ValueError):
            return []

    # ---- the link ---------------------------------------------------------------------------------------
    def tls_context(self, profile: int) -> ssl.SSLContext:
        """Profiles 2 and 3: trust exactly the installed CSMS roots; profile 3 shows the signed station
        certificate when there is one, else the configured one."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        roots = self.root_ders(ROOT_USES[0])
        if roots:
            context.load_verify_locations(cadata=b"".join(roots))
        if profile == 3:
            if self.station_file.exists():
                context.load_cert_chain(self.station_file)
            else:
                context.load_cert_chain(self.cfg.client_cert_file, self.cfg.client_key_file)
        return context


def _hash_key(data: dict) -> tuple:
    get = (lambda *names: next((str(data[n]) for n in names if n in data), ""))
    return (get("hashAlgorithm", "hash_algorithm"), get("issuerNameHash", "issuer_name_hash").lower(),
            get("issuerKeyHash", "issuer_key_hash").lower(),
            get("serialNumber", "serial_number").lower().lstrip("0"))
