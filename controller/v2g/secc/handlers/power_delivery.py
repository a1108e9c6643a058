"""PowerDeliveryReq: start (the car closed its contactors) or stop the energy transfer.

DIN says ReadyToChargeState true/false; ISO-2 says ChargeProgress Start/Stop (Renegotiate is not offered:
we never ask for it, and a car that sends it gets FAILED)."""
from __future__ import annotations

from dataclasses import replace

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext


def wants_start(ctx: SeccContext, req) -> bool | None:
    if ctx.schema == "din":
        return bool(req.ReadyToChargeState)
    return {"Start": True, "Stop": False}.get(req.ChargeProgress.value)


def ask(ctx: SeccContext, req) -> Answer:
    start = wants_start(ctx, req)
    if start is None:
        return replace(ctx.plain_answer(), code="FAILED")
    return ctx.connector.ev_power_delivery(start)


def respond(ctx: SeccContext, answer: Answer, code):
    return ctx.types.PowerDeliveryRes(ResponseCode=code, DC_EVSEStatus=ctx.dc_status(answer.status))
