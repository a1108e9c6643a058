"""The rig's own ISO 15118-2 XML signatures over EXI, for its car and its certificate provisioning service.

The rig must not import the controller's SECC (the import contracts: the rig meets the controller at the
wires), so it signs with the shared codec (controller.formats) itself: each Reference's DigestValue is SHA-256
over the element's EXI fragment in the message schema's grammar, SignatureValue is ECDSA P-256 / SHA-256 over
SignedInfo's xmldsig fragment, raw r || s.
"""
from __future__ import annotations

import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2

CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _digest(name: str, element: Any) -> bytes:
    return hashlib.sha256(exi.encode_fragment("iso2", name, element)).digest()


def sign(key: ec.EllipticCurvePrivateKey, elements: list[tuple[str, Any]]) -> iso2.Signature:
    """A header Signature over `elements` ((element name, element with its Id), in order)."""
    info = iso2.SignedInfo(
        CanonicalizationMethod=iso2.CanonicalizationMethod(Algorithm=CANONICAL_EXI),
        SignatureMethod=iso2.SignatureMethod(Algorithm=ECDSA_SHA256),
        Reference=[iso2.Reference(URI=f"#{element.Id}", Transforms=iso2.Transforms(
            Transform=[iso2.Transform(Algorithm=CANONICAL_EXI)]), DigestMethod=iso2.DigestMethod(Algorithm=SHA256),
            DigestValue=_digest(name, element)) for name, element in elements])
    r, s = decode_dss_signature(key.sign(exi.encode_fragment("iso2", "SignedInfo", info, "xmldsig"),
                                         ec.ECDSA(hashes.SHA256())))
    return iso2.Signature(SignedInfo=info, SignatureValue=iso2.SignatureValue(
        content=r.to_bytes(32, "big") + s.to_bytes(32, "big")))


def verify(signature: iso2.Signature | None, elements: list[tuple[str, Any]],
           public_key: ec.EllipticCurvePublicKey) -> str | None:
    """None when every element is referenced with its digest and SignedInfo is signed by `public_key`; else
    what failed."""
    if signature is None:
        return "no signature"
    info = signature.SignedInfo
    references = {ref.URI: ref.DigestValue for ref in info.Reference}
    for name, element in elements:
        if references.get(f"#{element.Id}") != _digest(name, element):
            return f"{name}: not referenced or digest differs"
    raw = signature.SignatureValue.content
    if len(raw) != 64:
        return "SignatureValue is not r || s"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public_key.verify(der, exi.encode_fragment("iso2", "SignedInfo", info, "xmldsig"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature over SignedInfo does not verify"
    return None
