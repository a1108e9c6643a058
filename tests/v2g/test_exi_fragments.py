"""EXI fragments (EXI 1.0 section 8.5.2) for ISO 15118-2 XML signatures, against published reference bytes.

SignedInfo as an xmldsig-schema fragment: the stream EVerest's libcbv2g pins in its SignedInfo fragment test
(two References, canonical-exi transforms, ecdsa-sha512 method names, digest 01..07). The element order of the
message schema's fragment grammar: the eMAID fragments EVerest pins against Exificient start 0x80 0xec, i.e.
eMAID is element 236 of 243 with 8-bit codes.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.formats.v2g import exi
from controller.formats.v2g.exi import iso2_gen
from controller.formats.v2g.messages import iso2 as m
from tests.v2g.test_exi_robustness import instances
from tools.exi_schema.fragments import all_declarations
from tools.exi_schema.xsd_model import load_schema_set

pytestmark = pytest.mark.timeout(60)
SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "schemas"
CANONICAL_EXI = "http://www.w3.org/TR/canonical-exi/"
ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
SIGNED_INFO_FRAGMENT = bytes.fromhex(
    "808112b43a3a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc3497a1ab43a3a381d1797bbbbbb973b9"
    "99737b933979918181897981a17bc36b63239b4b396b6b7b93291b2b1b239b096b9b4309a98992205696431025687474703a2f2f"
    "7777772e77332e6f72672f54522f63616e6f6e6963616c2d6578692f486ad0e8e8e0745e5eeeeeee5cee665cdee4ce5e64606062"
    "5e60685ef0dad8c8e6d2ce5adadee4ca46cac6c8e6c25ae6d0c26a626480e020406080a0c0e0815a590c8095a1d1d1c0e8bcbddd"
    "dddcb9dcccb9bdc99cbd5148bd8d85b9bdb9a58d85b0b595e1a4bd21ab43a3a381d1797bbbbbb973b999737b9339799181818979"
    "81a17bc36b63239b4b396b6b7b93291b2b1b239b096b9b4309a9899203808101820283038dc0")


def _reference(uri: str) -> m.Reference:
    return m.Reference(URI=uri, Transforms=m.Transforms(Transform=[m.Transform(Algorithm=CANONICAL_EXI)]),
                       DigestMethod=m.DigestMethod(Algorithm=ECDSA_SHA512), DigestValue=bytes(range(1, 8)))


def test_signed_info_as_an_xmldsig_fragment_matches_the_published_stream():
    signed_info = m.SignedInfo(CanonicalizationMethod=m.CanonicalizationMethod(Algorithm=CANONICAL_EXI),
                               SignatureMethod=m.SignatureMethod(Algorithm=ECDSA_SHA512),
                               Reference=[_reference("id1"), _reference("id2")])
    assert exi.encode_fragment("iso2", "SignedInfo", signed_info, "xmldsig") == SIGNED_INFO_FRAGMENT


def test_the_fragment_grammars_list_every_declaration_sorted_by_local_name_then_namespace():
    message = sorted(all_declarations(load_schema_set(SCHEMAS / "iso2/V2G_CI_MsgDef.xsd")),
                     key=lambda q: (q[1], q[0]))
    assert len(message) == 243 and message.index(("urn:iso:15118:2:2013:MsgBody", "eMAID")) == 0xEC
    assert (iso2_gen.FRAGMENT_BITS, iso2_gen.FRAGMENT_END) == (8, 244)
    assert (iso2_gen.XMLDSIG_FRAGMENT_BITS, iso2_gen.XMLDSIG_FRAGMENT_END) == (6, 46)
    assert iso2_gen.XMLDSIG_FRAGMENT_ENCODERS["SignedInfo"][0] == 32
    # the signed body elements of ISO 15118-2 all have an encoder in the message schema's grammar
    for element in ("AuthorizationReq", "MeteringReceiptReq", "ContractSignatureCertChain",
                    "ContractSignatureEncryptedPrivateKey", "DHpublickey", "SignedInfo"):
        assert element in iso2_gen.FRAGMENT_ENCODERS, element


def test_an_authorization_req_fragment_is_header_code_content_end():
    request = m.AuthorizationReq(Id="ID1", GenChallenge=bytes(16))
    data = exi.encode_fragment("iso2", "AuthorizationReq", request)
    code, _ = iso2_gen.FRAGMENT_ENCODERS["AuthorizationReq"]
    assert data[0] == 0x80 and data[1] == code
    assert exi.encode_fragment("iso2", "AuthorizationReq", request) == data  # a digest input: deterministic


def test_elements_the_codec_cannot_encode_as_fragments_are_refused():
    # simple-typed elements have no fragment encoder (nothing ISO 15118-2 signs); eMAID, declared with two
    # types, takes the relaxed grammar: tests/v2g/test_exi_emaid_fragment.py
    with pytest.raises(exi.ExiError, match="EVSEID is not an element of the FRAGMENT grammar"):
        exi.encode_fragment("iso2", "EVSEID", object())
    with pytest.raises(exi.ExiError, match="eMAID is a str or EMAID, got object"):
        exi.encode_fragment("iso2", "eMAID", object())
    with pytest.raises(exi.ExiError, match="AuthorizationReq is a AuthorizationReq, got SignedInfo"):
        exi.encode_fragment("iso2", "AuthorizationReq", m.SignedInfo(
            CanonicalizationMethod=m.CanonicalizationMethod(Algorithm=CANONICAL_EXI),
            SignatureMethod=m.SignatureMethod(Algorithm=ECDSA_SHA512), Reference=[_reference("x")]))
    with pytest.raises(exi.ExiError, match="no FRAGMENT grammar"):
        exi.encode_fragment("din", "SessionSetupReq", object())
    with pytest.raises(exi.ExiError, match="unknown fragment grammar"):
        exi.encode_fragment("iso2", "SignedInfo", object(), "c14n")


# What ISO 15118-2 signs: body messages and the certificate-installation elements as message-schema fragments,
# SignedInfo and its parts as xmldsig fragments. (The random-instance strategy knows nothing of the xmldsig
# key-info types' content rules, so those are left out.)
SIGNED_PARTS = ("ContractSignatureCertChain", "ContractSignatureEncryptedPrivateKey", "DHpublickey", "SignedInfo")
FRAGMENT_ELEMENTS = sorted([("message", name) for name in iso2_gen.FRAGMENT_ENCODERS
                            if name.endswith(("Req", "Res")) or name in SIGNED_PARTS]
                           + [("xmldsig", name) for name in ("SignedInfo", "Reference", "Transforms", "Transform",
                                                             "DigestMethod", "CanonicalizationMethod")])


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_elements_round_trip_as_fragments(data: st.DataObject) -> None:
    grammar, element = data.draw(st.sampled_from(FRAGMENT_ELEMENTS))
    table = iso2_gen.FRAGMENT_ENCODERS if grammar == "message" else iso2_gen.XMLDSIG_FRAGMENT_ENCODERS
    cls = getattr(m, table[element][1].__name__[3:])
    message = data.draw(instances(cls))
    encoded = exi.encode_fragment("iso2", element, message, grammar)
    assert exi.decode_fragment("iso2", encoded, grammar) == [(element, message)]


def test_a_fragment_cut_short_or_with_data_after_its_end_is_refused():
    request = m.AuthorizationReq(Id="ID1", GenChallenge=bytes(16))
    data = exi.encode_fragment("iso2", "AuthorizationReq", request)
    with pytest.raises(exi.ExiError, match="truncated"):
        exi.decode_fragment("iso2", data[:-3])
    with pytest.raises(exi.ExiError, match="data after the fragment's end"):
        exi.decode_fragment("iso2", data + b"\x01")
    with pytest.raises(exi.ExiError, match="header byte 0x80"):
        exi.decode_fragment("iso2", b"\x00" + data[1:])
