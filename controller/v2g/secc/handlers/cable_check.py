"""CableCheckReq: Ongoing while the connector checks the insulation; the isolation level once done."""
from __future__ import annotations

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext


def ask(ctx: SeccContext, req) -> Answer:
    return ctx.connector.ev_cable_check_request()


def respond(ctx: SeccContext, answer: Answer, code):
    t = ctx.types
    return t.CableCheckRes(ResponseCode=code, DC_EVSEStatus=ctx.dc_status(answer.status),
                           EVSEProcessing=t.EVSEProcessing(answer.processing.value))
