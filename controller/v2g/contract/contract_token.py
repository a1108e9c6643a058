"""The token the SECC presents for a Plug & Charge contract: the eMAID (what OCPP authorizes, as a card's
idToken) and the contract chain it came with (leaf, then sub-CAs, DER), so that the CSMS may check the
certificates too (OCPP Authorize iso15118CertificateHashData)."""
from __future__ import annotations

from dataclasses import dataclass

EMAID_TOKEN_TYPE = "eMAID"  # OCPP 2.0.1 IdTokenEnumType


@dataclass(frozen=True)
class ContractToken:
    emaid: str
    leaf_der: bytes
    sub_ca_ders: tuple[bytes, ...] = ()
    locally_validated: bool = True  # False: no MO root here, the CSMS alone judges the chain

    def id_token(self) -> dict:
        return {"idToken": self.emaid, "type": EMAID_TOKEN_TYPE}

    def chain_ders(self) -> list[bytes]:
        return [self.leaf_der, *self.sub_ca_ders]
