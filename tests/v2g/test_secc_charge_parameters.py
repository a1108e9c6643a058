"""ChargeParameterDiscovery through the SECC: every value of the car's DC parameters reaches the connector, a
mode the cable does not offer and AC parameters are refused with each schema's own code, and the schedule's
entries at their edges (issue 19's surviving mutants of handlers/charge_parameter_discovery.py)."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.v2g.physical_value import to_float
from controller.v2g.secc.handlers.charge_parameter_discovery import pmax_entries
from tests.v2g.test_secc_phases import walk
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)


async def authorized(bench: Bench) -> None:
    await bench.open_session()
    assert (await bench.ask("authorize")).ResponseCode.value == "OK"


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_every_dc_parameter_of_the_car_reaches_the_connector(schema):
    async def go():
        bench = Bench(schema)
        await authorized(bench)
        answer = await bench.ask("charge_parameters", max_voltage_v=410, max_current_a=125, soc_percent=23,
                                 energy_capacity_wh=77_000, max_power_w=90_000, energy_request_wh=52_000)
        return bench, answer
    bench, answer = asyncio.run(go())
    assert answer.ResponseCode.value == "OK"
    ev = bench.conn.ev_parameters
    assert (ev.max_voltage_v, ev.max_current_a, ev.max_power_w, ev.soc_percent, ev.energy_capacity_wh,
            ev.energy_request_wh) == (410, 125, 90_000, 23, 77_000, 52_000)


@pytest.mark.parametrize("schema, code", [("din", "FAILED_WrongEnergyTransferType"),
                                          ("iso2", "FAILED_WrongEnergyTransferMode")])
def test_a_mode_the_cable_does_not_offer_is_refused_with_the_schemas_code(schema, code):
    async def go():
        bench = Bench(schema, modes=("DC_core",))  # the car asks DC_extended
        await authorized(bench)
        return bench, await bench.ask("charge_parameters", max_voltage_v=410, max_current_a=125, soc_percent=23)
    bench, answer = asyncio.run(go())
    assert answer.ResponseCode.value == code and bench.conn.ev_parameters is None


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_ac_parameters_on_a_dc_cable_are_a_wrong_charge_parameter(schema):
    async def go():
        bench = Bench(schema)
        await authorized(bench)
        name, body = bench.car.charge_parameters(max_voltage_v=410, max_current_a=125, soc_percent=23)
        pv, t = bench.car.pv, bench.car.t
        ac = t.AC_EVChargeParameter(DepartureTime=0, EAmount=pv(20_000, "Wh"), EVMaxVoltage=pv(240, "V"),
                                    EVMaxCurrent=pv(32, "A"), EVMinCurrent=pv(6, "A"))
        return bench, await bench.send(name, replace(body, DC_EVChargeParameter=None, AC_EVChargeParameter=ac))
    bench, answer = asyncio.run(go())
    assert answer.ResponseCode.value == "FAILED_WrongChargeParameter" and bench.conn.ev_parameters is None
    assert to_float(answer.DC_EVSEChargeParameter.EVSEMaximumVoltageLimit) == 500  # the cable's limits still told


def test_din_offers_one_unlimited_entry_from_the_start():
    async def go():
        bench = Bench("din")
        await authorized(bench)
        return await bench.ask("charge_parameters", max_voltage_v=410, max_current_a=125, soc_percent=23)
    answer = asyncio.run(go())
    (entry,) = answer.SAScheduleList.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry
    assert (entry.RelativeTimeInterval.start, entry.RelativeTimeInterval.duration, entry.PMax) == (0, None, 32767)


@pytest.mark.parametrize("schedule, entries", [
    (((600, 20_000.0),), [(0, None, 50_000), (600, 85_800, 20_000)]),       # nothing from 0: the port's limit
    (((-5, 1.0), (86_400, 2.0), (0, 30_000.0)), [(0, 86_400, 30_000)]),     # outside the 24 h: ignored
    (((0, -10.0), (60, float("inf"))), [(0, None, 0.0), (60, 86_340, 50_000)]),  # never below 0 W
    (((0, 40_000.0), (0, 30_000.0)), [(0, 86_400, 30_000)]),               # one second, two limits: the lower
])
def test_pmax_entries_at_their_edges(schedule, entries):
    assert pmax_entries(schedule, 50_000) == entries


def test_two_limits_in_one_second_keep_the_lower_in_either_order():
    assert pmax_entries(((0, 30_000.0), (0, 40_000.0)), 50_000) == [(0, 86_400, 30_000)]


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_the_regulation_tolerance_and_ripple_are_told(schema):
    async def go():
        bench = Bench(schema)
        await authorized(bench)
        return await bench.ask("charge_parameters", max_voltage_v=410, max_current_a=125, soc_percent=23)
    parameters = asyncio.run(go()).DC_EVSEChargeParameter
    assert to_float(parameters.EVSECurrentRegulationTolerance) == 5.0
    assert to_float(parameters.EVSEPeakCurrentRipple) == 5.0
    assert to_float(parameters.EVSEMinimumCurrentLimit) == 0.0


# ---- CurrentDemand: the car's values in, the limits out ---------------------------------------------------------
@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_every_current_demand_value_reaches_the_connector_and_the_limits_are_told(schema):
    async def go():
        bench = Bench(schema)
        await walk(bench, "charging")
        answer = await bench.ask("current_demand", target_voltage_v=401.0, target_current_a=55.0, soc_percent=47,
                                 charging_complete=True, max_voltage_v=415.0, max_current_a=140.0,
                                 max_power_w=55_000.0)
        return bench, answer
    bench, answer = asyncio.run(go())
    demand = bench.conn.demand
    assert (demand.target_voltage_v, demand.target_current_a, demand.soc_percent, demand.charging_complete,
            demand.max_voltage_v, demand.max_current_a, demand.max_power_w) == \
        (401.0, 55.0, 47.0, True, 415.0, 140.0, 55_000.0)
    assert to_float(answer.EVSEMaximumVoltageLimit) == 500.0
    assert to_float(answer.EVSEMaximumCurrentLimit) == 200.0
    assert to_float(answer.EVSEMaximumPowerLimit) == 60_000.0
