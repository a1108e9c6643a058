"""ISO-2 MeteringReceiptReq (Plug & Charge): the car signs the meter reading we sent it, with its contract key.

In a session authorized by a contract, the first CurrentDemandRes asks for a receipt (ReceiptRequired, with
MeterInfo: the session's energy so far); the car answers with a MeteringReceiptReq whose signature covers
the MeteringReceiptReq element. A signature that does not verify with the contract leaf's key, or a receipt
for a MeterInfo other than ours, is FAILED_SignatureError (the session ends, the connector stops through its
error path); a receipt never asked for is FAILED_SequenceError. One receipt per session."""
from __future__ import annotations

import logging
import time
from dataclasses import replace

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext

log = logging.getLogger(__name__)


def request(ctx: SeccContext) -> dict:
    """The CurrentDemandRes fields that ask for a receipt: once, in a session authorized by a contract."""
    contract = ctx.contract
    if ctx.schema != "iso2" or contract.public_key is None or contract.receipt_asked:
        return {}
    session = getattr(ctx.connector, "session", None)
    energy_wh = getattr(session, "energy_wh", 0.0) or 0.0
    meter_id = ctx.evse_id if isinstance(ctx.evse_id, str) and ctx.evse_id else "SECC"
    contract.receipt = ctx.types.MeterInfo(MeterID=meter_id[:32], MeterReading=max(0, int(energy_wh)),
                                           TMeter=int(time.time()))
    contract.receipt_asked = True
    return {"ReceiptRequired": True, "MeterInfo": contract.receipt}


def ask(ctx: SeccContext, req) -> Answer:
    from controller.v2g.secc.xml_signature import SignatureInvalid, verify  # loads `cryptography`: PnC only
    answer = ctx.plain_answer()
    contract = ctx.contract
    if contract.receipt is None:
        return ctx.out_of_sequence("MeteringReceiptReq", "no receipt was asked for")
    sent, contract.receipt = contract.receipt, None
    problem = None
    if req.MeterInfo != sent:
        problem = "the receipt's MeterInfo is not the one we sent"
    else:
        try:
            verify(ctx.header.Signature if ctx.header is not None else None, [("MeteringReceiptReq", req)],
                   contract.public_key)
        except SignatureInvalid as exc:
            problem = str(exc)
    if problem is not None:
        log.warning("connector %d: MeteringReceiptReq of eMAID %s refused: %s", ctx.connector.cfg.id,
                    contract.emaid, problem)
        return replace(answer, code="FAILED_SignatureError")
    return answer


def respond(ctx: SeccContext, answer: Answer, code):
    return ctx.types.MeteringReceiptRes(ResponseCode=code, DC_EVSEStatus=ctx.dc_status(answer.status))
