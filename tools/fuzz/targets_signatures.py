"""Targets for what ISO 15118-2 XML signatures read: EXI fragments of the ISO-2 schema in both fragment
grammars ("message" for the signed body elements, "xmldsig" for SignedInfo), and the signature check itself.

exi-fragment / exi-xmldsig: decode_fragment, then each decoded element encoded again as a fragment of its own
must decode to the same element (or the encoder says why it cannot, with ExiError).
xml-signature: the input is an ISO-2 document; its header Signature is checked over its body element (when that
carries an Id) with a fixed contract key. Only SignatureInvalid or the codec's ExiError may come out.
"""
from __future__ import annotations

import functools
from typing import Any

from tools.fuzz import seeds
from tools.fuzz.target import OneInput, PropertyBroken, Target

GRAMMARS = {"exi-fragment": "message", "exi-xmldsig": "xmldsig"}
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
CONTRACT_KEY_SECRET = 0x15118  # a fixed P-256 key: signed seeds verify, so the fuzzer reaches the ECDSA check
SESSION_ID = bytes.fromhex("0102030405060708")


def _fragment(name: str) -> Target:
    from controller.formats.v2g.exi import ExiError

    grammar = GRAMMARS[name]

    def build() -> OneInput:
        from controller.formats.v2g import exi

        def one(data: bytes) -> None:
            for element, message in exi.decode_fragment("iso2", data, grammar):
                try:
                    again = exi.encode_fragment("iso2", element, message, grammar)
                except ExiError:
                    continue  # a value the decoder kept but the schema's facets refuse: the encoder says so
                if exi.decode_fragment("iso2", again, grammar) != [(element, message)]:
                    raise PropertyBroken(f"{element} decodes differently once encoded again as a fragment")
        return one

    def seed() -> list[bytes]:
        return list(_fragment_seeds()[grammar])

    return Target(name, f"controller.formats.v2g.exi.decode_fragment('iso2', ..., {grammar!r}) (+ round trip)",
                  (ExiError,), build, seed, 4096)


def _signature() -> Target:
    from controller.formats.v2g.exi import ExiError
    from controller.v2g.secc.xml_signature import SignatureInvalid

    def build() -> OneInput:
        from controller.formats.v2g import exi
        from controller.v2g.secc import xml_signature

        public_key = _contract_key().public_key()

        def one(data: bytes) -> None:
            document = exi.decode("iso2", data)
            xml_signature.verify(document.Header.Signature, _signed_elements(document.Body), public_key)
        return one

    def seed() -> list[bytes]:
        return _signed_documents() + list(seeds.exi_payloads()["iso2"][:20])

    return Target("xml-signature", "controller.v2g.secc.xml_signature.verify over a decoded ISO-2 document",
                  (SignatureInvalid, ExiError), build, seed, 4096)


def _signed_elements(body: Any) -> list[tuple[str, Any]]:
    """The body element a signature covers: the one that is set, when its type has an Id (AuthorizationReq,
    MeteringReceiptReq, the certificate requests)."""
    for name in type(body).__dataclass_fields__:
        message = getattr(body, name)
        if message is not None:
            return [(name, message)] if hasattr(message, "Id") else []
    return []


@functools.cache
def _contract_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.derive_private_key(CONTRACT_KEY_SECRET, ec.SECP256R1())


def _signed_documents() -> list[bytes]:
    from controller.formats.v2g import exi
    from controller.formats.v2g.messages import iso2 as m
    from controller.v2g.secc import xml_signature

    made = []
    for name, message in (("AuthorizationReq", m.AuthorizationReq(Id="ID1", GenChallenge=bytes(range(16)))),
                          ("MeteringReceiptReq", m.MeteringReceiptReq(
                              Id="ID2", SessionID=SESSION_ID, SAScheduleTupleID=1,
                              MeterInfo=m.MeterInfo(MeterID="METER-1", MeterReading=12345)))):
        signature = xml_signature.sign(_contract_key(), [(name, message)])
        header = m.MessageHeader(SessionID=SESSION_ID, Signature=signature)
        made.append(exi.encode("iso2", m.V2G_Message(Header=header, Body=m.Body(**{name: message}))))
    return made


@functools.cache
def _fragment_seeds() -> dict[str, tuple[bytes, ...]]:
    """Fragments of the elements ISO 15118-2 signs, made here (the vectors of tests/v2g/test_exi_fragments.py)
    and from the body elements of the captured ISO-2 sessions."""
    from controller.formats.v2g import exi
    from controller.formats.v2g.exi import ExiError, iso2_gen
    from controller.formats.v2g.messages import iso2 as m

    def reference(uri: str) -> m.Reference:
        return m.Reference(URI=uri, Transforms=m.Transforms(Transform=[m.Transform(Algorithm=CANONICAL_EXI)]),
                           DigestMethod=m.DigestMethod(Algorithm=ECDSA_SHA512), DigestValue=bytes(range(1, 8)))

    signed_info = m.SignedInfo(CanonicalizationMethod=m.CanonicalizationMethod(Algorithm=CANONICAL_EXI),
                               SignatureMethod=m.SignatureMethod(Algorithm=ECDSA_SHA512),
                               Reference=[reference("id1"), reference("id2")])
    xmldsig = [exi.encode_fragment("iso2", "SignedInfo", signed_info, "xmldsig"),
               exi.encode_fragment("iso2", "Reference", reference("#ID1"), "xmldsig")]
    message = [exi.encode_fragment("iso2", "AuthorizationReq", m.AuthorizationReq(Id="ID1", GenChallenge=bytes(16))),
               exi.encode_fragment("iso2", "SignedInfo", signed_info)]
    for document in _signed_documents():
        signature = exi.decode("iso2", document).Header.Signature
        xmldsig.append(exi.encode_fragment("iso2", "Signature", signature, "xmldsig"))
    for payload in seeds.exi_payloads()["iso2"]:
        try:
            body = exi.decode("iso2", payload).Body
        except ExiError:
            continue
        for name in type(body).__dataclass_fields__:
            element = getattr(body, name)
            if element is not None and name in iso2_gen.FRAGMENT_ENCODERS:
                try:
                    fragment = exi.encode_fragment("iso2", name, element)
                except ExiError:
                    continue
                if fragment not in message:
                    message.append(fragment)
    return {"message": tuple(message[:60]), "xmldsig": tuple(xmldsig)}


def targets() -> list[Target]:
    return [_fragment("exi-fragment"), _fragment("exi-xmldsig"), _signature()]
