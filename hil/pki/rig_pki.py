"""The rig's whole ISO 15118-2 test PKI, and its broken variants.

V2G root -> CPO sub-CA 1 -> CPO sub-CA 2 -> SECC leaf (the station's TLS certificate);
MO root -> MO sub-CA 1 -> MO sub-CA 2 -> contract leaf (CN = eMAID);
OEM root -> OEM sub-CA 1 -> OEM sub-CA 2 -> the car's provisioning certificate.
Validity periods follow the usual test PKIs (root 10 years, CPO sub-CAs 4 and 1 years, SECC leaf 60 days,
contract 2 years). Key generation costs time, so `rig_pki()` is made once per process.
"""
from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hil.pki.profiles import Issued, Role, issue

DEFAULT_EMAID = "USCPIC0000001X"
SECC_CN = "SECCCert"
MO_OCSP_URL = "http://127.0.0.1:8080/ocsp"  # the rig MO certificates' AIA: Authorize names each to the CSMS with it
BROKEN_VARIANTS = ("expired", "untrusted")
BROKEN_CONTRACTS = ("expired", "untrusted", "key-usage")


def _now() -> datetime.datetime:
    # a minute back, so a certificate made now is already valid on a clock a little behind
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class V2gPki:
    v2g_root: Issued
    cpo_sub1: Issued
    cpo_sub2: Issued
    secc: Issued
    mo_root: Issued
    mo_sub1: Issued
    mo_sub2: Issued
    contract: Issued
    oem_root: Issued
    oem_sub1: Issued
    oem_sub2: Issued
    oem_provisioning: Issued

    @property
    def emaid(self) -> str:
        return self.contract.subject_cn

    def secc_chain(self) -> list[x509.Certificate]:
        """What the SECC presents in TLS: its leaf, then the CPO sub-CAs (never the root)."""
        return [self.secc.cert, self.cpo_sub2.cert, self.cpo_sub1.cert]

    def contract_chain(self) -> list[x509.Certificate]:
        return [self.contract.cert, self.mo_sub2.cert, self.mo_sub1.cert]


def cpo_chain(root: Issued, *, now: datetime.datetime, secc_days: int = 60,
              secc_not_before: datetime.datetime | None = None) -> tuple[Issued, Issued, Issued]:
    sub1 = issue(Role.SUB_CA_1, "CPOSubCA1", "V2G", issuer=root, days=4 * 365, not_before=now)
    sub2 = issue(Role.SUB_CA_2, "CPOSubCA2", "V2G", issuer=sub1, days=365, not_before=now)
    secc = issue(Role.TLS_LEAF, SECC_CN, "CPO", issuer=sub2, days=secc_days, not_before=secc_not_before or now)
    return sub1, sub2, secc


def generate(*, emaid: str = DEFAULT_EMAID, now: datetime.datetime | None = None) -> V2gPki:
    now = now or _now()
    v2g_root = issue(Role.ROOT, "V2GRootCA", "V2G", issuer=None, days=10 * 365, not_before=now)
    cpo_sub1, cpo_sub2, secc = cpo_chain(v2g_root, now=now)
    mo_root = issue(Role.ROOT, "MORootCA", "MO", issuer=None, days=10 * 365, not_before=now)
    mo_sub1 = issue(Role.SUB_CA_1, "MOSubCA1", "MO", issuer=mo_root, days=4 * 365, not_before=now,
                    ocsp_url=f"{MO_OCSP_URL}/mo-root")
    mo_sub2 = issue(Role.SUB_CA_2, "MOSubCA2", "MO", issuer=mo_sub1, days=4 * 365, not_before=now,
                    ocsp_url=f"{MO_OCSP_URL}/mo-sub-ca-1")
    contract = issue(Role.CONTRACT_LEAF, emaid, "MO", issuer=mo_sub2, days=2 * 365, not_before=now,
                     ocsp_url=f"{MO_OCSP_URL}/mo-sub-ca-2")
    oem_root = issue(Role.ROOT, "OEMRootCA", "OEM", issuer=None, days=10 * 365, not_before=now)
    oem_sub1 = issue(Role.SUB_CA_1, "OEMSubCA1", "OEM", issuer=oem_root, days=4 * 365, not_before=now)
    oem_sub2 = issue(Role.SUB_CA_2, "OEMSubCA2", "OEM", issuer=oem_sub1, days=4 * 365, not_before=now)
    provisioning = issue(Role.TLS_LEAF, "OEMProvCert", "OEM", issuer=oem_sub2, days=4 * 365, not_before=now)
    return V2gPki(v2g_root, cpo_sub1, cpo_sub2, secc, mo_root, mo_sub1, mo_sub2, contract,
                  oem_root, oem_sub1, oem_sub2, provisioning)


@functools.lru_cache(maxsize=1)
def rig_pki() -> V2gPki:
    """The one PKI of this process (tests and the rig share it: key generation is the slow part)."""
    return generate()


@functools.lru_cache(maxsize=len(BROKEN_VARIANTS))
def broken_secc(variant: str) -> tuple[Issued, list[x509.Certificate]]:
    """A SECC leaf and the chain it presents that a car holding `rig_pki()`'s V2G root must refuse:
    "expired" (the right chain, a leaf whose validity ended yesterday) or "untrusted" (a whole CPO chain
    under another V2G root)."""
    pki = rig_pki()
    now = _now()
    if variant == "expired":
        leaf = issue(Role.TLS_LEAF, SECC_CN, "CPO", issuer=pki.cpo_sub2, days=60,
                     not_before=now - datetime.timedelta(days=61))
        return leaf, [leaf.cert, pki.cpo_sub2.cert, pki.cpo_sub1.cert]
    if variant == "untrusted":
        other_root = issue(Role.ROOT, "V2GRootCA", "V2G", issuer=None, days=10 * 365, not_before=now)
        sub1, sub2, leaf = cpo_chain(other_root, now=now)
        return leaf, [leaf.cert, sub2.cert, sub1.cert]
    raise ValueError(f"unknown broken SECC variant {variant!r}; known: {', '.join(BROKEN_VARIANTS)}")


@dataclass(frozen=True)
class Contract:
    """What a car holds for Plug & Charge: the contract leaf (and key) and the MO sub-CAs it sends along."""
    leaf: Issued
    sub_cas: tuple[x509.Certificate, ...]

    @property
    def emaid(self) -> str:
        return self.leaf.subject_cn

    def ders(self) -> tuple[bytes, list[bytes]]:
        """The leaf and the sub-CAs (sub-CA 2 first) as DER, as PaymentDetailsReq carries them."""
        der = serialization.Encoding.DER
        return self.leaf.cert.public_bytes(der), [c.public_bytes(der) for c in self.sub_cas]


def good_contract() -> Contract:
    pki = rig_pki()
    return Contract(pki.contract, (pki.mo_sub2.cert, pki.mo_sub1.cert))


@functools.lru_cache(maxsize=4)
def expiring_contract(days_left: int = 5) -> Contract:
    """A good contract (the rig's eMAID, the right MO chain) whose leaf expires in `days_left` days: a car that
    renews some days before expiry updates it (CertificateUpdate). Its own key and serial."""
    pki = rig_pki()
    lifetime = 2 * 365
    leaf = issue(Role.CONTRACT_LEAF, pki.emaid, "MO", issuer=pki.mo_sub2, days=lifetime,
                 not_before=_now() - datetime.timedelta(days=lifetime - days_left),
                 ocsp_url=f"{MO_OCSP_URL}/mo-sub-ca-2")
    return Contract(leaf, (pki.mo_sub2.cert, pki.mo_sub1.cert))


@functools.lru_cache(maxsize=len(BROKEN_CONTRACTS))
def broken_contract(variant: str) -> Contract:
    """A contract that a SECC trusting `rig_pki()`'s MO root must refuse: "expired" (the right chain, a leaf
    whose validity ended yesterday), "untrusted" (a whole MO chain under another MO root) or "key-usage" (the
    right chain, a leaf without digitalSignature: it may not sign)."""
    pki = rig_pki()
    now = _now()
    emaid = pki.emaid
    if variant == "expired":
        leaf = issue(Role.CONTRACT_LEAF, emaid, "MO", issuer=pki.mo_sub2, days=30,
                     not_before=now - datetime.timedelta(days=31))
        return Contract(leaf, (pki.mo_sub2.cert, pki.mo_sub1.cert))
    if variant == "untrusted":
        root = issue(Role.ROOT, "MORootCA", "MO", issuer=None, days=10 * 365, not_before=now)
        sub1 = issue(Role.SUB_CA_1, "MOSubCA1", "MO", issuer=root, days=4 * 365, not_before=now)
        sub2 = issue(Role.SUB_CA_2, "MOSubCA2", "MO", issuer=sub1, days=4 * 365, not_before=now)
        leaf = issue(Role.CONTRACT_LEAF, emaid, "MO", issuer=sub2, days=2 * 365, not_before=now)
        return Contract(leaf, (sub2.cert, sub1.cert))
    if variant == "key-usage":
        usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
        leaf = issue(Role.CONTRACT_LEAF, emaid, "MO", issuer=pki.mo_sub2, days=2 * 365, not_before=now,
                     key_usage=usage)
        return Contract(leaf, (pki.mo_sub2.cert, pki.mo_sub1.cert))
    raise ValueError(f"unknown broken contract variant {variant!r}; known: {', '.join(BROKEN_CONTRACTS)}")


@dataclass(frozen=True)
class SeccFiles:
    chain: Path   # PEM: leaf first, then the sub-CAs
    key: Path     # PEM PKCS#8, mode 0600


def write_secc_files(directory: Path, leaf: Issued, chain: list[x509.Certificate]) -> SeccFiles:
    """The SECC's certificate chain and key as the cabinet config names them (`[v2g.tls]`)."""
    directory.mkdir(parents=True, exist_ok=True)
    chain_path, key_path = directory / "secc_chain.pem", directory / "secc_key.pem"
    chain_path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(leaf.key_pem())
    os.chmod(key_path, 0o600)  # an existing file keeps its old mode through O_CREAT
    return SeccFiles(chain_path, key_path)


def write_root(path: Path, root: Issued) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(root.cert_pem())
    return path
