"""ChargeParameterDiscoveryReq: the car's DC limits to the connector; the cable's limits and one schedule back."""
from __future__ import annotations

from dataclasses import replace

from controller.connector.ev_session import Answer, EvChargeParameters
from controller.v2g.secc.context import SCHEDULE_TUPLE_ID, SeccContext
from controller.formats.v2g.physical_value import optional_limit, physical, to_float

DIN_PMAX_UNLIMITED = 32767
ISO2_SCHEDULE_DURATION_S = 86400


def ask(ctx: SeccContext, req) -> Answer:
    mode = req.EVRequestedEnergyTransferType if ctx.schema == "din" else req.RequestedEnergyTransferMode
    ev = req.DC_EVChargeParameter
    if mode.value not in ctx.offer.energy_transfer_modes:
        code = "FAILED_WrongEnergyTransferType" if ctx.schema == "din" else "FAILED_WrongEnergyTransferMode"
        return replace(ctx.plain_answer(), code=code)
    if ev is None:  # AC parameters on a DC cable
        return replace(ctx.plain_answer(), code="FAILED_WrongChargeParameter")
    return ctx.connector.ev_charge_parameter_discovery(EvChargeParameters(
        max_voltage_v=to_float(ev.EVMaximumVoltageLimit), max_current_a=to_float(ev.EVMaximumCurrentLimit),
        max_power_w=optional_limit(ev.EVMaximumPowerLimit), soc_percent=float(ev.DC_EVStatus.EVRESSSOC),
        energy_capacity_wh=to_float(ev.EVEnergyCapacity), energy_request_wh=to_float(ev.EVEnergyRequest)))


def _schedule(ctx: SeccContext, max_power_w: float):
    t = ctx.types
    if ctx.schema == "din":
        entry = t.PMaxScheduleEntry(RelativeTimeInterval=t.RelativeTimeInterval(start=0), PMax=DIN_PMAX_UNLIMITED)
        pmax = t.PMaxSchedule(PMaxScheduleID=SCHEDULE_TUPLE_ID, PMaxScheduleEntry=[entry])
    else:
        entry = t.PMaxScheduleEntry(RelativeTimeInterval=t.RelativeTimeInterval(
            start=0, duration=ISO2_SCHEDULE_DURATION_S), PMax=physical(t, max_power_w, "W"))
        pmax = t.PMaxSchedule(PMaxScheduleEntry=[entry])
    return t.SAScheduleList(SAScheduleTuple=[t.SAScheduleTuple(SAScheduleTupleID=SCHEDULE_TUPLE_ID, PMaxSchedule=pmax)])


def respond(ctx: SeccContext, answer: Answer, code):
    t = ctx.types
    limits = answer.charge_parameters or ctx.connector.evse_charge_parameters()
    parameters = t.DC_EVSEChargeParameter(
        DC_EVSEStatus=ctx.dc_status(answer.status),
        EVSEMaximumCurrentLimit=physical(t, limits.max_current_a, "A"),
        EVSEMaximumPowerLimit=physical(t, limits.max_power_w, "W"),
        EVSEMaximumVoltageLimit=physical(t, limits.max_voltage_v, "V"),
        EVSEMinimumCurrentLimit=physical(t, limits.min_current_a, "A"),
        EVSEMinimumVoltageLimit=physical(t, limits.min_voltage_v, "V"),
        EVSECurrentRegulationTolerance=physical(t, limits.current_regulation_tolerance_a, "A"),
        EVSEPeakCurrentRipple=physical(t, limits.peak_current_ripple_a, "A"))
    return t.ChargeParameterDiscoveryRes(
        ResponseCode=code, EVSEProcessing=t.EVSEProcessing(answer.processing.value),
        SAScheduleList=_schedule(ctx, limits.max_power_w), DC_EVSEChargeParameter=parameters)
