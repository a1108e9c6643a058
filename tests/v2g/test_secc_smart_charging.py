"""The operator's limit (controller/connector/limits.py's external hook, fed by OCPP smart charging) in every
CurrentDemandRes and the output's current, read fresh on each request; ISO-2's SAScheduleList from the
schedule (valid EXI: the codec enforces the XSD's bounds)."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.v2g.physical_value import to_float
from controller.v2g.secc.handlers.charge_parameter_discovery import pmax_entries
from tests.v2g.test_secc_phases import walk
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_current_demand_res_follows_the_external_limit_on_the_next_request(schema):
    async def go():
        bench = Bench(schema)
        await walk(bench, "charging")
        bench.board.status = replace(bench.board.status, cable_voltage_v=400.0)
        bench.conn.on_io_status(bench.board.status)
        bench.conn.limits.external = lambda: (20_000.0, 80.0)
        first = await bench.ask("current_demand", target_voltage_v=400.0, target_current_a=100.0, soc_percent=31,
                                max_voltage_v=420.0, max_current_a=150.0)
        limited_setpoint = bench.conn.charge_control.target_current_a
        bench.conn.limits.external = lambda: (8_000.0, float("inf"))
        second = await bench.ask("current_demand", target_voltage_v=400.0, target_current_a=100.0, soc_percent=31,
                                 max_voltage_v=420.0, max_current_a=150.0)
        return first, limited_setpoint, second, bench.conn.charge_control.target_current_a
    first, first_target, second, second_target = asyncio.run(go())
    assert to_float(first.EVSEMaximumPowerLimit) == 20_000 and to_float(first.EVSEMaximumCurrentLimit) == 80
    assert first_target == pytest.approx(50.0)  # 20 kW at 400 V
    assert first.EVSEPowerLimitAchieved is True
    assert to_float(second.EVSEMaximumPowerLimit) == 8_000 and to_float(second.EVSEMaximumCurrentLimit) == 200
    assert second_target == pytest.approx(20.0)


def test_iso2_charge_parameter_discovery_carries_the_schedule_as_pmax_entries():
    async def go():
        bench = Bench("iso2")
        bench.conn.limits.power_schedule = lambda: ((0, 30_000.0), (600, 45_000.0), (3600.4, float("inf")))
        return await walk(bench, "parameter_discovery")
    seen = asyncio.run(go())
    entries = seen["parameter_discovery"].SAScheduleList.SAScheduleTuple[0].PMaxSchedule.PMaxScheduleEntry
    got = [(e.RelativeTimeInterval.start, e.RelativeTimeInterval.duration, to_float(e.PMax)) for e in entries]
    assert got == [(0, None, 30_000), (600, None, 45_000), (3600, 86_400 - 3600, 60_000)]  # inf: the port's 60 kW


def test_pmax_entries_stay_inside_the_schema():
    long = tuple((i * 10, 1000.0 + i) for i in range(3000))
    entries = pmax_entries(long, 50_000)
    assert len(entries) == 1024 and entries[-1][1] == 86_400 - entries[-1][0]
    assert pmax_entries((), 50_000) == [(0, 86_400, 50_000)]
    assert pmax_entries(((0.2, 5.0), (0.7, 3.0), (90_000, 1.0)), 9.0) == [(0, 86_400, 3.0)]
