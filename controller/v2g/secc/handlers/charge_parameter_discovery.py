"""ChargeParameterDiscoveryReq: the car's DC limits to the connector; the cable's limits and one schedule back.

ISO-2's schedule is the operator's (OCPP smart charging) when one is in force: one PMax entry per period of the
EVSE's composite for the next 24 h (ISO 15118-2 asks the entries to cover 24 h; at most 1,024), else one
entry with the present power limit. DIN keeps its single unlimited entry: its cars follow the limit in every
CurrentDemandRes."""
from __future__ import annotations

from dataclasses import replace

from controller.connector.ev_session import Answer, EvChargeParameters
from controller.v2g.secc.context import SCHEDULE_TUPLE_ID, SeccContext
from controller.formats.v2g.physical_value import optional_limit, physical, to_float

DIN_PMAX_UNLIMITED = 32767
ISO2_SCHEDULE_DURATION_S = 86400
MAX_PMAX_ENTRIES = 1024  # PMaxScheduleType's PMaxScheduleEntry maxOccurs


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


def pmax_entries(schedule: tuple[tuple[int, float], ...], max_power_w: float) -> list[tuple[int, int | None, float]]:
    """(start, duration or None, W) entries covering 24 h, starts ascending from 0 (two periods in one second: the
    lower limit), the last with the duration to the end; where the schedule sets no finite limit, `max_power_w`."""
    periods: dict[int, float] = {}
    for start, limit in schedule:
        second = int(start)
        if 0 <= second < ISO2_SCHEDULE_DURATION_S:
            limit = limit if limit != float("inf") else max_power_w
            periods[second] = min(limit, periods.get(second, limit))
    if 0 not in periods:
        periods[0] = max_power_w
    entries: list[tuple[int, int | None, float]] = [(start, None, max(0.0, periods[start]))
                                                    for start in sorted(periods)][:MAX_PMAX_ENTRIES]
    last_start, _, last_limit = entries[-1]
    entries[-1] = (last_start, ISO2_SCHEDULE_DURATION_S - last_start, last_limit)
    return entries


def _schedule(ctx: SeccContext, max_power_w: float, schedule: tuple[tuple[int, float], ...] = ()):
    t = ctx.types
    if ctx.schema == "din":
        entry = t.PMaxScheduleEntry(RelativeTimeInterval=t.RelativeTimeInterval(start=0), PMax=DIN_PMAX_UNLIMITED)
        pmax = t.PMaxSchedule(PMaxScheduleID=SCHEDULE_TUPLE_ID, PMaxScheduleEntry=[entry])
    else:
        pmax = t.PMaxSchedule(PMaxScheduleEntry=[
            t.PMaxScheduleEntry(RelativeTimeInterval=t.RelativeTimeInterval(start=start, duration=duration),
                                PMax=physical(t, limit, "W"))
            for start, duration, limit in pmax_entries(schedule, max_power_w)])
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
        SAScheduleList=_schedule(ctx, limits.max_power_w, limits.power_schedule), DC_EVSEChargeParameter=parameters)
