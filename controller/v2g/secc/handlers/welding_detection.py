"""WeldingDetectionReq: contactors open; the car watches the voltage fall to check for welded contacts."""
from __future__ import annotations

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext
from controller.formats.v2g.physical_value import physical


def ask(ctx: SeccContext, req) -> Answer:
    return ctx.connector.ev_welding_detection()


def respond(ctx: SeccContext, answer: Answer, code):
    t = ctx.types
    return t.WeldingDetectionRes(ResponseCode=code, DC_EVSEStatus=ctx.dc_status(answer.status),
                                 EVSEPresentVoltage=physical(t, answer.present_voltage_v, "V"))
