"""Clock-aligned meter values (block J) at the wall-clock instants of AlignedDataCtrlr.Interval, driven by an
injected clock: MeterValues outside transactions, TransactionEvent MeterValueClock inside, TxEndedInterval
samples in the Ended event, and the queue's rule while offline."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from controller.ocpp.aligned_meter import next_instant
from controller.ocpp.transactions import timestamp
from controller.store.ocpp_queue import OcppQueue
from hil.csms import CsmsSimulator
from tests.ocpp.harness import PASSWORD, STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)

QUARTER = 1_800_000_000.0  # 2027-01-15T08:00:00Z, on a quarter hour


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


class FreshMeter:
    fresh = True

    def __init__(self, energy_wh: float):
        self.latest = SimpleNamespace(energy_import_wh=energy_wh, power_w=0.0, current_a=0.0, voltage_v=0.0)


def test_instants_are_aligned_to_midnight_utc():
    assert next_instant(QUARTER - 0.001, 900) == QUARTER
    assert next_instant(QUARTER, 900) == QUARTER + 900  # the next one, not the present
    assert next_instant(QUARTER + 437.5, 900) == QUARTER + 900
    midnight = 1_799_971_200.0  # 2027-01-15T00:00:00Z
    assert next_instant(midnight - 1, 7 * 3600) == midnight  # 7 h does not divide a day: midnight ends it
    assert next_instant(midnight + 1, 7 * 3600) == midnight + 7 * 3600


def _setting(name: str, value: str, component: str = "AlignedDataCtrlr") -> dict:
    return {"component": {"name": component}, "variable": {"name": name}, "attributeValue": value}


async def _set(csms, *items) -> None:
    answer = await csms.set_variables(STATION, list(items))
    assert [r["attribute_status"] for r in answer.set_variable_result] == ["Accepted"] * len(items)


async def _at(service, t) -> None:
    """Move the clock to t and wait until the meter task has looked at it (it polls every 0.1 s)."""
    service.clock.now = t
    for _ in range(100):  # 10 s at most, also on a loaded machine
        await asyncio.sleep(0.1)
        if service.aligned.looked_at == t:
            return
    raise TimeoutError(f"the clock-aligned meter never looked at {t}")


@run_async
async def test_aligned_values_inside_and_outside_transactions_and_in_the_ended_event():
    clock = Clock(QUARTER - 10)
    charging, idle = FakeConnector(1), FakeConnector(2)
    idle.meter = FreshMeter(123_456.0)
    async with station_and_csms([charging, idle], clock=clock) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2, 5)
        for state in ("plugged", "negotiating", "charging"):
            charging.move(state)
        await _set(csms, _setting("Interval", "900"), _setting("TxEndedInterval", "900"),
                   _setting("Measurands", "Energy.Active.Import.Register,Power.Active.Import"))
        await _at(service, QUARTER - 5)  # the task has seen the interval
        assert csms.calls("MeterValues") == []
        await _at(service, QUARTER + 0.2)
        await csms.wait_for(lambda: csms.calls("MeterValues") and any(
            e["triggerReason"] == "MeterValueClock" for e in csms.calls("TransactionEvent")), 5)
        await _at(service, QUARTER + 899)  # not yet the next quarter hour
        charging.move("available")
        await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended", 5)
    stamp = timestamp(QUARTER)
    meter_values = csms.calls("MeterValues")
    assert meter_values == [{"evseId": 2, "meterValue": [{"timestamp": stamp, "sampledValue": [
        {"value": 123456.0, "measurand": "Energy.Active.Import.Register", "context": "Sample.Clock",
         "unitOfMeasure": {"unit": "Wh"}},
        {"value": 0.0, "measurand": "Power.Active.Import", "context": "Sample.Clock",
         "unitOfMeasure": {"unit": "W"}}]}]}]
    clocked = [e for e in csms.calls("TransactionEvent") if e["triggerReason"] == "MeterValueClock"]
    assert len(clocked) == 1 and clocked[0]["eventType"] == "Updated"
    sample = clocked[0]["meterValue"][0]
    assert sample["timestamp"] == stamp
    assert [(s["measurand"], s["context"]) for s in sample["sampledValue"]] == [
        ("Energy.Active.Import.Register", "Sample.Clock"), ("Power.Active.Import", "Sample.Clock")]
    ended = csms.calls("TransactionEvent")[-1]["meterValue"]
    assert [m["sampledValue"][0]["context"] for m in ended] == ["Sample.Clock", "Transaction.End"]
    assert ended[0]["timestamp"] == stamp and len(ended[0]["sampledValue"]) == 1  # TxEndedMeasurands: energy
    events = csms.calls("TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert csms.violations == []


@run_async
async def test_off_by_default_and_nothing_without_a_register():
    clock = Clock(QUARTER - 1)
    metered = FakeConnector(1)
    metered.meter = FreshMeter(5.0)
    async with station_and_csms([metered], clock=clock) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        for t in (QUARTER + 1, QUARTER + 901):
            await _at(service, t)
        await _set(csms, _setting("Interval", "900"))
        await _at(service, QUARTER + 1000)
        metered.meter.fresh = False  # the meter is silent: no register to report (energy only is asked)
        await _at(service, QUARTER + 1801)
    assert csms.calls("MeterValues") == []


@pytest.mark.parametrize("queue_all", [True, False])
@run_async
async def test_meter_values_made_offline_are_queued_only_with_queue_all_messages(queue_all):
    clock = Clock(QUARTER - 10)
    csms = CsmsSimulator(password=PASSWORD)
    connector = FakeConnector(1)
    connector.meter = FreshMeter(5.0)
    async with station_and_csms([connector], csms=csms, clock=clock) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        await _set(csms, _setting("Interval", "900"))
        await _set(csms, _setting("QueueAllMessages", "true" if queue_all else "false", "OCPPCommCtrlr"))
        await _at(service, QUARTER - 5)
        await csms.stop()
        await asyncio.sleep(0.2)
        assert not service.accepted
        await _at(service, QUARTER + 1)  # made while the CSMS is away
        assert len(service.queue) == (1 if queue_all else 0)
        await csms.start()
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2 and len(service.queue) == 0, 10)
        await _at(service, QUARTER + 901)  # online again: sent either way
        await csms.wait_for(lambda: csms.calls("MeterValues"), 5)
    stamps = [m["meterValue"][0]["timestamp"] for m in csms.calls("MeterValues")]
    assert stamps == ([timestamp(QUARTER)] if queue_all else []) + [timestamp(QUARTER + 900)]
    assert csms.violations == []


@run_async
async def test_queued_meter_values_go_out_after_a_restart_in_order(tmp_path):
    """On disk before they are sent: MeterValues a dead station left go out after the next start, in order."""
    path = tmp_path / "store.sqlite"
    left = OcppQueue(path)
    for minutes in (0, 15):
        left.append("MeterValues", {"evseId": 1, "meterValue": [{"timestamp": timestamp(QUARTER + 60 * minutes),
                                                                  "sampledValue": [{"value": 10.0 + minutes}]}]})
    left.close()
    queue = OcppQueue(path)
    async with station_and_csms([FakeConnector(1)], queue=queue) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("MeterValues")) == 2 and len(queue) == 0, 5)
    assert [m["meterValue"][0]["sampledValue"][0]["value"] for m in csms.calls("MeterValues")] == [10.0, 25.0]
    assert len(OcppQueue(path)) == 0 and csms.violations == []
