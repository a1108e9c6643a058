"""ISO 15118-2 XML signatures over EXI (section 7.9.2.4): digests of signed elements, and the ECDSA signature
over SignedInfo, made and checked with `cryptography`.

Each Reference names a signed element by `#Id`; its DigestValue is SHA-256 over that element's EXI fragment
in the message schema's grammar (canonical-exi transform). SignatureValue is the ECDSA P-256 / SHA-256
signature over SignedInfo's EXI fragment in the xmldsig grammar, written as r || s (32 bytes each), not DER.
A check that fails names the reason (the SECC answers FAILED_SignatureError for any of them).
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
COORDINATE_BYTES = 32  # P-256


class SignatureInvalid(ValueError):
    """The signature does not hold; the message says which part failed."""


def element_digest(element: str, message: Any) -> bytes:
    """SHA-256 over the element's EXI fragment (message-schema grammar)."""
    return hashlib.sha256(exi.encode_fragment("iso2", element, message)).digest()


def _reference(element_id: str, digest: bytes) -> iso2.Reference:
    return iso2.Reference(URI=f"#{element_id}",
                          Transforms=iso2.Transforms(Transform=[iso2.Transform(Algorithm=CANONICAL_EXI)]),
                          DigestMethod=iso2.DigestMethod(Algorithm=SHA256), DigestValue=digest)


def sign(key: ec.EllipticCurvePrivateKey, elements: list[tuple[str, Any]]) -> iso2.Signature:
    """The header Signature over `elements` ((element name, message with its Id set), in order)."""
    signed_info = iso2.SignedInfo(CanonicalizationMethod=iso2.CanonicalizationMethod(Algorithm=CANONICAL_EXI),
                                  SignatureMethod=iso2.SignatureMethod(Algorithm=ECDSA_SHA256),
                                  Reference=[_reference(message.Id, element_digest(name, message))
                                             for name, message in elements])
    der = key.sign(exi.encode_fragment("iso2", "SignedInfo", signed_info, "xmldsig"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(COORDINATE_BYTES, "big") + s.to_bytes(COORDINATE_BYTES, "big")
    return iso2.Signature(SignedInfo=signed_info, SignatureValue=iso2.SignatureValue(content=raw))


def verify(signature: iso2.Signature | None, elements: list[tuple[str, Any]], public_key: ec.EllipticCurvePublicKey
           ) -> None:
    """Every element in `elements` is referenced with the right digest, and SignedInfo is signed by
    `public_key`; SignatureInvalid otherwise."""
    if signature is None:
        raise SignatureInvalid("no signature in the message header")
    info = signature.SignedInfo
    if info.SignatureMethod.Algorithm != ECDSA_SHA256:
        raise SignatureInvalid(f"signature method {info.SignatureMethod.Algorithm} is not ECDSA-SHA256")
    references = {ref.URI: ref for ref in info.Reference}
    for name, message in elements:
        ref = references.get(f"#{message.Id}")
        if ref is None:
            raise SignatureInvalid(f"{name} (Id {message.Id}) is not referenced in SignedInfo")
        if ref.DigestMethod.Algorithm != SHA256:
            raise SignatureInvalid(f"digest method {ref.DigestMethod.Algorithm} is not SHA-256")
        if ref.DigestValue != element_digest(name, message):
            raise SignatureInvalid(f"the digest of {name} does not match its content")
    raw = signature.SignatureValue.content
    if len(raw) != 2 * COORDINATE_BYTES:
        raise SignatureInvalid(f"SignatureValue is {len(raw)} bytes, not r || s of 64")
    der = encode_dss_signature(int.from_bytes(raw[:COORDINATE_BYTES], "big"),
                               int.from_bytes(raw[COORDINATE_BYTES:], "big"))
    try:
        public_key.verify(der, exi.encode_fragment("iso2", "SignedInfo", info, "xmldsig"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureInvalid("the signature over SignedInfo does not verify with the contract key") from None
