"""SessionStopReq: accepted in any state after SessionSetup (the connector takes the power down first)."""
from __future__ import annotations

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext


def ask(ctx: SeccContext, req) -> Answer:
    return ctx.connector.ev_stop_session()


def respond(ctx: SeccContext, answer: Answer, code):
    # the session ends whatever the connector's state (even in an emergency): the car may go
    return ctx.types.SessionStopRes(ResponseCode=ctx.types.ResponseCode.OK)
