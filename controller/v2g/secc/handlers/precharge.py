"""PreChargeReq: the connector matches the car's battery voltage at a small current."""
from __future__ import annotations

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext
from controller.formats.v2g.physical_value import physical, to_float


def ask(ctx: SeccContext, req) -> Answer:
    return ctx.connector.ev_precharge_request(to_float(req.EVTargetVoltage), to_float(req.EVTargetCurrent))


def respond(ctx: SeccContext, answer: Answer, code):
    t = ctx.types
    return t.PreChargeRes(ResponseCode=code, DC_EVSEStatus=ctx.dc_status(answer.status),
                          EVSEPresentVoltage=physical(t, answer.present_voltage_v, "V"))
