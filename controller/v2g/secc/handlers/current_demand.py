"""CurrentDemandReq: the charging loop (the car asks every 100-250 ms; we must answer within 25 ms)."""
from __future__ import annotations

from controller.connector.ev_session import Answer, CurrentDemand
from controller.v2g.secc.context import SCHEDULE_TUPLE_ID, SeccContext
from controller.v2g.secc.handlers import metering_receipt
from controller.formats.v2g.physical_value import optional_limit, physical, to_float


def ask(ctx: SeccContext, req) -> Answer:
    return ctx.connector.ev_current_demand(CurrentDemand(
        target_voltage_v=to_float(req.EVTargetVoltage), target_current_a=to_float(req.EVTargetCurrent),
        soc_percent=float(req.DC_EVStatus.EVRESSSOC), charging_complete=bool(req.ChargingComplete),
        max_voltage_v=to_float(req.EVMaximumVoltageLimit), max_current_a=to_float(req.EVMaximumCurrentLimit),
        max_power_w=optional_limit(req.EVMaximumPowerLimit)))


def respond(ctx: SeccContext, answer: Answer, code):
    t = ctx.types
    limits = ctx.connector.evse_charge_parameters()
    fields = dict(
        ResponseCode=code, DC_EVSEStatus=ctx.dc_status(answer.status),
        EVSEPresentVoltage=physical(t, answer.present_voltage_v, "V"),
        EVSEPresentCurrent=physical(t, answer.present_current_a, "A"),
        EVSECurrentLimitAchieved=answer.current_limit_reached, EVSEVoltageLimitAchieved=answer.voltage_limit_reached,
        EVSEPowerLimitAchieved=answer.power_limit_reached,
        EVSEMaximumVoltageLimit=physical(t, limits.max_voltage_v, "V"),
        EVSEMaximumCurrentLimit=physical(t, limits.max_current_a, "A"),
        EVSEMaximumPowerLimit=physical(t, limits.max_power_w, "W"))
    if ctx.schema == "iso2":
        fields.update(EVSEID=ctx.evse_id, SAScheduleTupleID=SCHEDULE_TUPLE_ID, ReceiptRequired=False)
        if code == ctx.types.ResponseCode.OK:
            fields.update(metering_receipt.request(ctx))  # Plug & Charge: one receipt signed by the contract key
    return t.CurrentDemandRes(**fields)
