"""What one V2G session knows of its Plug & Charge contract, from ServiceDiscovery to MeteringReceipt."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHALLENGE_BYTES = 16  # ISO-2 GenChallenge


@dataclass
class ContractSession:
    offered: bool = False          # Contract was in our ServiceDiscoveryRes (TLS, MO roots available)
    selected: bool = False         # the car chose Contract in PaymentServiceSelectionReq
    details_seen: bool = False     # PaymentDetailsReq answered (once per session: no second challenge)
    challenge: bytes | None = None  # our GenChallenge, until the authorization it was for has finished
    proven: bool = False           # a signed AuthorizationReq with that challenge verified (repeats may be bare)
    emaid: str = ""                # from the validated contract leaf
    token: Any = None              # the ContractToken (eMAID and chain) presented for authorization
    public_key: Any = None         # the contract leaf's key: AuthorizationReq and MeteringReceiptReq signatures
    presented: bool = False        # the eMAID went to the connector's identification (once)
    presenting: Any = None         # its answer to come: a task giving (outcome, text), as for a card
    receipt_asked: bool = False    # one CurrentDemandRes asked for a receipt (once per session)
    receipt: Any = None            # the MeterInfo of that CurrentDemandRes, until the car signed it
