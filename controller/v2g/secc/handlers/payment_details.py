"""ISO-2 PaymentDetailsReq (Plug & Charge): the car's eMAID and contract chain, checked against the MO roots
(controller/v2g/contract/validation.py). A valid contract is answered OK with a fresh 16-byte GenChallenge,
which the car must sign back in AuthorizationReq; anything else with the validation's FAILED code, which
ends the session before any energy (the session records EV_SESSION_REFUSED).

Only after PaymentServiceSelection(Contract), and once per session: a second PaymentDetailsReq would give
the car a second challenge to sign."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import replace

from controller.connector.ev_session import Answer
from controller.v2g.contract.contract_session import CHALLENGE_BYTES
from controller.v2g.contract.contract_token import ContractToken
from controller.v2g.secc.context import SeccContext

log = logging.getLogger(__name__)


async def ask(ctx: SeccContext, req) -> Answer:
    answer = ctx.plain_answer()
    contract = ctx.contract
    if not contract.selected or contract.details_seen:
        return ctx.out_of_sequence("PaymentDetailsReq", "without Contract payment selected, or repeated")
    contract.details_seen = True
    chain = req.ContractSignatureCertChain
    subs = list(chain.SubCertificates.Certificate) if chain.SubCertificates is not None else []
    verdict = await ctx.contracts.check(req.eMAID, chain.Certificate, subs)
    if not verdict.ok:
        log.warning("connector %d: contract of eMAID %s refused: %s (%s)", ctx.connector.cfg.id, req.eMAID,
                    verdict.code, verdict.reason)
        return replace(answer, code=verdict.code)  # a protocol code the connector has no name for
    contract.emaid = req.eMAID
    contract.token = ContractToken(req.eMAID, chain.Certificate, tuple(subs), locally_validated=not verdict.central)
    contract.public_key = verdict.leaf.public_key()
    contract.challenge = os.urandom(CHALLENGE_BYTES)
    log.info("connector %d: %s", ctx.connector.cfg.id, verdict.reason)
    return answer


def respond(ctx: SeccContext, answer: Answer, code):
    challenge = ctx.contract.challenge if ctx.contract.challenge is not None else bytes(CHALLENGE_BYTES)
    return ctx.types.PaymentDetailsRes(ResponseCode=code, GenChallenge=challenge, EVSETimeStamp=int(time.time()))
