"""ISO-2 AuthorizationReq after PaymentServiceSelection(Contract): the car proves it holds the contract key.

The request carries Id and our GenChallenge, and the header a Signature over the AuthorizationReq element
made with the contract key (controller/v2g/secc/xml_signature.py). A challenge other than ours (a replayed
request, an old session's) is FAILED_ChallengeInvalid; a signature that does not verify with the contract
leaf's key, FAILED_SignatureError. While the answer is Ongoing the car repeats the request; a repetition
may come bare (no Id, GenChallenge or Signature: Josev, EcoG-io's EVCC, reads [V2G2-684] so) once a signed one
held, until the challenge is spent; a repetition that carries a challenge is checked again. Once proven, the
eMAID is presented as an idToken of type eMAID exactly as a card would be, with its chain (ContractToken: with
OCPP the CSMS's rules decide, and the CSMS may check the chain too), and the answer is the connector's: Ongoing
until the connector is authorized; once the identification refused the eMAID, the code it gave
(FAILED_CertificateRevoked when the CSMS said the chain is revoked, ...) or FAILED (a car would otherwise wait
for its timeout). The challenge is spent when the authorization finishes. External payment keeps the plain
handler (controller/v2g/secc/handlers/authorization.py)."""
from __future__ import annotations

import logging
from dataclasses import replace

from controller.connector.ev_session import Answer, Processing, ResponseCode
from controller.v2g.secc.context import SeccContext
from controller.v2g.secc.handlers import authorization

log = logging.getLogger(__name__)


def ask(ctx: SeccContext, req) -> Answer:
    contract = ctx.contract
    if ctx.schema != "iso2" or not contract.selected:
        return authorization.ask(ctx, req)
    if contract.challenge is None and not contract.details_seen:
        return ctx.out_of_sequence("AuthorizationReq", "Contract payment but no PaymentDetailsReq before it")
    if not _bare_repetition(ctx, req):
        refused = _refusal(ctx, req)
        if refused is not None:
            log.warning("connector %d: AuthorizationReq of eMAID %s refused: %s", ctx.connector.cfg.id,
                        contract.emaid or "?", refused[1])
            return replace(ctx.plain_answer(), code=refused[0])
        contract.proven = True
    refused_code = _refused_by_identification(contract.presenting)
    if refused_code is not None:
        log.warning("connector %d: eMAID %s refused: %s", ctx.connector.cfg.id, contract.emaid,
                    contract.presenting.result()[1])
        return replace(ctx.plain_answer(), code=refused_code)
    answer = ctx.connector.ev_authorization()
    if not contract.presented and answer.code == ResponseCode.OK and answer.processing == Processing.ONGOING:
        contract.presented = True
        if ctx.present_token is not None:
            contract.presenting = ctx.present_token(contract.token, ctx.connector.cfg.id)
        else:  # no identification wired (a bare SECC): the validated contract is the authorization
            ctx.connector.authorize()
            answer = ctx.connector.ev_authorization()
    if answer.processing == Processing.FINISHED:
        contract.challenge = None  # spent: a repetition of this request cannot authorize again
    return answer


def _bare_repetition(ctx: SeccContext, req) -> bool:
    """A repetition without Id, GenChallenge and Signature after a signed request held, challenge still open."""
    signed = ctx.header is not None and ctx.header.Signature is not None
    return (ctx.contract.proven and ctx.contract.challenge is not None and req.GenChallenge is None
            and not req.Id and not signed)


def _refused_by_identification(presenting):
    """The response code when the identification's answer to the eMAID ((outcome, text) as for a card, or
    (outcome, text, ISO-2 code)) says refused; None while it has not (yet)."""
    if presenting is None or not presenting.done() or presenting.cancelled() or presenting.exception() is not None:
        return None
    outcome = presenting.result()
    if not (isinstance(outcome, tuple) and outcome and outcome[0] == "refused"):
        return None
    code = outcome[2] if len(outcome) > 2 else ""
    return code if code.startswith("FAILED") else ResponseCode.FAILED


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
