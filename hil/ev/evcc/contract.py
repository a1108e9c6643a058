"""The rig car's Plug & Charge contract, and its own signer for AuthorizationReq and MeteringReceiptReq.

The car signs the way ISO 15118-2 section 7.9.2.4 says, with code of its own (the rig never imports the
controller's signature code, so a bug there cannot hide on both sides of the wire): SHA-256 of the signed
element's EXI fragment in a Reference, ECDSA P-256 / SHA-256 over SignedInfo's EXI fragment (xmldsig
grammar), the signature value as r || s.

Variants, chosen by the scenario: "valid" (the rig PKI's contract), "expired" and "untrusted" (broken
contracts of hil/pki/rig_pki.py), "bad-signature" (the valid contract, signed with another key), "expiring"
(a good contract whose leaf expires in 5 days: the car renews it with CertificateUpdate first).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2

CONTRACT_VARIANTS = ("valid", "expired", "untrusted", "bad-signature", "expiring")
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


@dataclass(frozen=True)
class CarContract:
    variant: str
    emaid: str
    leaf_der: bytes
    sub_ca_ders: tuple[bytes, ...]
    signing_key: Any  # the key the car signs with (the contract's own, except for "bad-signature")


def car_contract(variant: str) -> CarContract:
    """The contract a car of this variant holds; ValueError for an unknown one."""
    from hil.pki.profiles import new_key  # `cryptography` and the PKI: only for a Plug & Charge car
    from hil.pki.rig_pki import broken_contract, expiring_contract, good_contract
    if variant not in CONTRACT_VARIANTS:
        raise ValueError(f"unknown contract {variant!r}; known: {', '.join(CONTRACT_VARIANTS)}")
    contract = broken_contract(variant) if variant in ("expired", "untrusted") else \
        expiring_contract() if variant == "expiring" else good_contract()
    leaf, subs = contract.ders()
    key = new_key() if variant == "bad-signature" else contract.leaf.key
    return CarContract(variant, contract.emaid, leaf, tuple(subs), key)


def installed_contract(installed: Any) -> CarContract:
    """The contract a CertificateInstallation gave the car (hil/pki/contract_provisioning.py InstalledContract)."""
    from cryptography.hazmat.primitives.serialization import Encoding
    leaf, *subs = [cert.public_bytes(Encoding.DER) for cert in installed.chain]
    return CarContract("installed", installed.emaid, leaf, tuple(subs), installed.key)


def expires_within(contract: CarContract, days: float) -> bool:
    """Whether the contract leaf is still valid but its validity ends within `days` from now (ISO 15118-2 leaves
    the moment of a CertificateUpdate to the car; cars renew some days before expiry). An expired contract
    cannot be updated: the car pays with it and the station refuses it."""
    import datetime

    from cryptography import x509
    left = x509.load_der_x509_certificate(contract.leaf_der).not_valid_after_utc - \
        datetime.datetime.now(datetime.timezone.utc)
    return datetime.timedelta(0) < left <= datetime.timedelta(days=days)


def as_installed(contract: CarContract) -> Any:
    """The contract as hil/pki/contract_provisioning.py holds one (InstalledContract): what an update signs with."""
    from cryptography import x509

    from hil.pki.contract_provisioning import InstalledContract
    chain = [x509.load_der_x509_certificate(der) for der in (contract.leaf_der, *contract.sub_ca_ders)]
    return InstalledContract(contract.signing_key, chain, contract.emaid)


def signature(key: Any, element: str, body: Any) -> iso2.Signature:
    """The header Signature over one body element (`body` with its Id set)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    digest = hashlib.sha256(exi.encode_fragment("iso2", element, body)).digest()
    info = iso2.SignedInfo(
        CanonicalizationMethod=iso2.CanonicalizationMethod(Algorithm=CANONICAL_EXI),
        SignatureMethod=iso2.SignatureMethod(Algorithm=ECDSA_SHA256),
        Reference=[iso2.Reference(URI=f"#{body.Id}", DigestMethod=iso2.DigestMethod(Algorithm=SHA256),
                                  Transforms=iso2.Transforms(Transform=[iso2.Transform(Algorithm=CANONICAL_EXI)]),
                                  DigestValue=digest)])
    der = key.sign(exi.encode_fragment("iso2", "SignedInfo", info, "xmldsig"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return iso2.Signature(SignedInfo=info, SignatureValue=iso2.SignatureValue(content=r.to_bytes(32, "big")
                                                                              + s.to_bytes(32, "big")))
