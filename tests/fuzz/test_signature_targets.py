"""The signature targets reach what they are for: their signed seeds verify (so mutations of them exercise the
ECDSA and digest checks, not only the decoder), and a seed changed after signing is refused with
SignatureInvalid, the one error verify declares."""
from __future__ import annotations

import pytest

from controller.formats.v2g import exi
from controller.v2g.secc import xml_signature
from tools.fuzz import targets_signatures

pytestmark = pytest.mark.timeout(30)


def _check(payload: bytes) -> None:
    document = exi.decode("iso2", payload)
    xml_signature.verify(document.Header.Signature, targets_signatures._signed_elements(document.Body),
                         targets_signatures._contract_key().public_key())


def test_the_signed_seeds_verify_and_name_the_element_they_sign():
    seeds = targets_signatures._signed_documents()
    assert len(seeds) == 2
    for payload in seeds:
        _check(payload)
        (name, message), = targets_signatures._signed_elements(exi.decode("iso2", payload).Body)
        assert name in ("AuthorizationReq", "MeteringReceiptReq") and message.Id


def test_a_signed_seed_changed_after_signing_is_refused():
    document = exi.decode("iso2", targets_signatures._signed_documents()[0])
    document.Body.AuthorizationReq.GenChallenge = bytes(16)
    with pytest.raises(xml_signature.SignatureInvalid, match="digest of AuthorizationReq"):
        _check(exi.encode("iso2", document))


def test_both_fragment_grammars_have_seeds_that_decode():
    for grammar, found in targets_signatures._fragment_seeds().items():
        assert found, grammar
        for fragment in found:
            assert exi.decode_fragment("iso2", fragment, grammar)
