"""ISO-2 AuthorizationReq after PaymentServiceSelection(Contract): the car proves it holds the contract key.

The request carries Id and our GenChallenge, and the header a Signature over the AuthorizationReq element
made with the contract key (controller/v2g/secc/xml_signature.py). A challenge other than ours (a replayed
request, an old session's) is FAILED_ChallengeInvalid; a signature that does not verify with the contract
leaf's key, FAILED_SignatureError. Once proven, the eMAID is presented as an idToken of type eMAID exactly
as a card would be (with OCPP the CSMS's rules decide), and the answer is the connector's: Ongoing until the
connector is authorized; FAILED once the identification refused the eMAID (a car would otherwise wait for
its timeout). The challenge is spent when the authorization finishes. External payment keeps the plain handler
(controller/v2g/secc/handlers/authorization.py)."""
from __future__ import annotations

import logging
from dataclasses import replace

from controller.connector.ev_session import Answer, Processing, ResponseCode
from controller.v2g.secc.context import SeccContext
from controller.v2g.secc.handlers import authorization

log = logging.getLogger(__name__)

EMAID_TOKEN_TYPE = "eMAID"  # OCPP 2.0.1 IdTokenEnumType


def ask(ctx: SeccContext, req) -> Answer:
    contract = ctx.contract
    if ctx.schema != "iso2" or not contract.selected:
        return authorization.ask(ctx, req)
    if contract.challenge is None and not contract.details_seen:
        return ctx.out_of_sequence("AuthorizationReq", "Contract payment but no PaymentDetailsReq before it")
    refused = _refusal(ctx, req)
    if refused is not None:
        log.warning("connector %d: AuthorizationReq of eMAID %s refused: %s", ctx.connector.cfg.id,
                    contract.emaid or "?", refused[1])
        return replace(ctx.plain_answer(), code=refused[0])
    if _refused_by_identification(contract.presenting):
        log.warning("connector %d: eMAID %s refused: %s", ctx.connector.cfg.id, contract.emaid,
                    contract.presenting.result()[1])
        return replace(ctx.plain_answer(), code=ResponseCode.FAILED)
    answer = ctx.connector.ev_authorization()
    if not contract.presented and answer.code == ResponseCode.OK and answer.processing == Processing.ONGOING:
        contract.presented = True
        token = {"idToken": contract.emaid, "type": EMAID_TOKEN_TYPE}
        if ctx.present_token is not None:
            contract.presenting = ctx.present_token(token, ctx.connector.cfg.id)
        else:  # no identification wired (a bare SECC): the validated contract is the authorization
            ctx.connector.authorize()
            answer = ctx.connector.ev_authorization()
    if answer.processing == Processing.FINISHED:
        contract.challenge = None  # spent: a repetition of this request cannot authorize again
    return answer


def _refused_by_identification(presenting) -> bool:
    """The identification's answer to the eMAID ((outcome, text), as for a card) says refused."""
    if presenting is None or not presenting.done() or presenting.cancelled() or presenting.exception() is not None:
        return False
    outcome = presenting.result()
    return isinstance(outcome, tuple) and outcome and outcome[0] == "refused"


def _refusal(ctx: SeccContext, req) -> tuple[str, str] | None:
    from controller.v2g.secc.xml_signature import SignatureInvalid, verify  # loads `cryptography`: PnC only
    contract = ctx.contract
    if contract.challenge is None:
        return "FAILED_ChallengeInvalid", "no challenge of ours is open (spent or never given)"
    if req.GenChallenge != contract.challenge or not req.Id:
        return "FAILED_ChallengeInvalid", "GenChallenge is not the one we gave, or Id is missing"
    try:
        verify(ctx.header.Signature if ctx.header is not None else None, [("AuthorizationReq", req)],
               contract.public_key)
    except SignatureInvalid as exc:
        return "FAILED_SignatureError", str(exc)
    return None


def respond(ctx: SeccContext, answer: Answer, code):
    return authorization.respond(ctx, answer, code)
