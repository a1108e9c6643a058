"""The DC phases through the SECC: values in the answers (DC_EVSEStatus, present voltage and current,
limits, EVSEProcessing) and an emergency or an unplug in each phase. Same bench as test_secc_session."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)

PHASES = ["authorization", "parameter_discovery", "cable_check", "precharge", "charging"]


async def walk(bench: Bench, until: str) -> dict:
    """Drive the session up to and including `until`; the last answer of each phase by name."""
    seen = {}
    await bench.open_session()
    seen["authorization"] = await bench.ask("authorize")
    if until == "authorization":
        return seen
    seen["parameter_discovery"] = await bench.ask("charge_parameters", max_voltage_v=420, max_current_a=150,
                                                  soc_percent=30, energy_capacity_wh=50_000)
    if until == "parameter_discovery":
        return seen
    bench.cp("C")
    seen["cable_check_first"] = await bench.ask("cable_check")
    bench.settle(5)  # contactors closed, test voltage applied
    bench.board.status = replace(bench.board.status, cable_voltage_v=bench.group.setpoint[0])
    bench.settle(40)  # held while the IMD reads at test voltage, then discharged
    bench.board.status = replace(bench.board.status, cable_voltage_v=10.0)
    bench.settle(5)
    seen["cable_check"] = await bench.ask("cable_check")
    if until == "cable_check":
        return seen
    seen["precharge"] = await bench.ask("precharge", target_voltage_v=380.0, target_current_a=2.0)
    if until == "precharge":
        return seen
    bench.board.status = replace(bench.board.status, cable_voltage_v=378.0)  # the output reached the target
    seen["power_delivery"] = await bench.ask("power_delivery", start=True)
    seen["charging"] = await bench.ask("current_demand", target_voltage_v=400.0, target_current_a=100.0,
                                       soc_percent=31, max_voltage_v=420.0, max_current_a=150.0)
    return seen


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_answers_carry_status_processing_and_values(schema):
    async def go():
        bench = Bench(schema)
        return bench, await walk(bench, "charging")
    bench, seen = asyncio.run(go())
    parameters = seen["parameter_discovery"].DC_EVSEChargeParameter
    assert parameters.EVSEMaximumVoltageLimit.Value * 10 ** parameters.EVSEMaximumVoltageLimit.Multiplier == 500
    assert parameters.EVSEMaximumCurrentLimit.Value * 10 ** parameters.EVSEMaximumCurrentLimit.Multiplier == 200
    assert seen["parameter_discovery"].SAScheduleList.SAScheduleTuple[0].SAScheduleTupleID == 1
    first = seen["cable_check_first"]
    assert first.EVSEProcessing.value == "Ongoing"
    assert first.DC_EVSEStatus.EVSEStatusCode.value == "EVSE_IsolationMonitoringActive"
    done = seen["cable_check"]
    assert done.EVSEProcessing.value == "Finished" and done.DC_EVSEStatus.EVSEIsolationStatus.value == "Valid"
    assert done.DC_EVSEStatus.EVSEStatusCode.value == "EVSE_Ready"  # Josev stopped on IsolationMonitoringActive
    assert seen["precharge"].ResponseCode.value == "OK" and bench.group.setpoint == (380.0, 2.0)
    assert seen["power_delivery"].ResponseCode.value == "OK" and bench.conn.state == "charging"
    demand = seen["charging"]
    assert demand.ResponseCode.value == "OK" and demand.DC_EVSEStatus.EVSEStatusCode.value == "EVSE_Ready"
    assert demand.DC_EVSEStatus.EVSENotification.value == "None"
    assert demand.EVSEPresentVoltage.Unit.value == "V" and demand.EVSEPresentCurrent.Unit.value == "A"
    if schema == "iso2":
        assert demand.EVSEID == "US*EVSE*1" and demand.SAScheduleTupleID == 1


@pytest.mark.parametrize("phase", PHASES)
def test_emergency_in_each_phase_answers_emergency_shutdown_and_ends(phase):
    async def go():
        bench = Bench()
        await walk(bench, phase)
        bench.conn.raise_fault("ESTOP_PRESSED", "test")
        repeat = {"authorization": ("authorize", {}), "parameter_discovery": ("cable_check", {}),
                  "cable_check": ("cable_check", {}), "precharge": ("precharge", dict(target_voltage_v=380.0,
                                                                                     target_current_a=2.0)),
                  "charging": ("current_demand", dict(target_voltage_v=400.0, target_current_a=100.0,
                                                      soc_percent=32))}[phase]
        answer = await bench.ask(repeat[0], **repeat[1])
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = asyncio.run(go())
    assert answer.ResponseCode.value == "FAILED"
    if hasattr(answer, "DC_EVSEStatus"):
        assert answer.DC_EVSEStatus.EVSEStatusCode.value == "EVSE_EmergencyShutdown"
        assert answer.DC_EVSEStatus.EVSENotification.value == "StopCharging"
    assert bench.connection.closed
    assert bench.conn.state == "emergency" and not bench.board.contactors_cmd and not bench.group.is_on


@pytest.mark.parametrize("phase", PHASES)
def test_unplug_in_each_phase_opens_contactors_and_session_stop_still_answers(phase):
    async def go():
        bench = Bench()
        await walk(bench, phase)
        bench.cp("A")
        return bench, await bench.ask("session_stop")
    bench, answer = asyncio.run(go())
    assert bench.conn.state == "available" and not bench.board.contactors_cmd and not bench.group.is_on
    assert answer.ResponseCode.value == "OK"


def test_user_stop_while_charging_tells_the_car_stop_charging():
    async def go():
        bench = Bench("iso2")
        await walk(bench, "charging")
        bench.conn.request_stop()
        return await bench.ask("current_demand", target_voltage_v=400.0, target_current_a=100.0, soc_percent=32)
    answer = asyncio.run(go())
    assert answer.ResponseCode.value == "OK"
    assert answer.DC_EVSEStatus.EVSEStatusCode.value == "EVSE_Shutdown"
    assert answer.DC_EVSEStatus.EVSENotification.value == "StopCharging"
