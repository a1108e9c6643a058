"""SessionSetupReq: start the connector's session; the EVCCID may authorize it (allow-list)."""
from __future__ import annotations

import time

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext


def ask(ctx: SeccContext, req) -> Answer:
    ctx.evcc_id = req.EVCCID.hex()
    answer = ctx.connector.ev_setup(ctx.evcc_id)
    if ctx.evcc_id and ctx.evcc_id.lower() in ctx.allow_list:
        ctx.connector.authorize()
    return answer


def evse_id(ctx: SeccContext, answer: Answer):
    text = answer.evse_id or ctx.offer.evse_id
    if ctx.schema == "din":  # hexBinary in DIN; a single zero byte when we have none (as chargers do)
        return text.encode("ascii", "replace")[:32] or b"\x00"
    return (text or "ZZ00000").ljust(7, "0")[:37]


def respond(ctx: SeccContext, answer: Answer, code):
    if code == ctx.types.ResponseCode.OK:
        code = ctx.types.ResponseCode.OK_NewSessionEstablished
    now = int(time.time())
    ctx.evse_id = evse_id(ctx, answer)
    if ctx.schema == "din":
        return ctx.types.SessionSetupRes(ResponseCode=code, EVSEID=ctx.evse_id, DateTimeNow=now)
    return ctx.types.SessionSetupRes(ResponseCode=code, EVSEID=ctx.evse_id, EVSETimeStamp=now)
