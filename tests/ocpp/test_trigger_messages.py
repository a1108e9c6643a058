"""TriggerMessage (F06): MeterValues per EVSE or for all, with the meter's energy register, context Trigger;
the other triggers the station answers; an EVSE it does not have is Rejected."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


class FreshMeter:
    fresh = True

    def __init__(self, energy_wh: float):
        self.latest = SimpleNamespace(energy_import_wh=energy_wh, power_w=0.0, current_a=0.0, voltage_v=0.0)


def _register(payload: dict) -> tuple[float, str]:
    sampled = payload["meterValue"][0]["sampledValue"]
    [sample] = [s for s in sampled if s["measurand"] == "Energy.Active.Import.Register"]
    return sample["value"], sample["context"]


@run_async
async def test_meter_values_of_one_evse_then_of_all_with_the_meters_register():
    idle, charging = FakeConnector(1), FakeConnector(2)
    idle.meter, charging.meter = FreshMeter(12_345.0), FreshMeter(777_000.0)
    async with station_and_csms([idle, charging]) as (service, csms):
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 2, 5)
        for state in ("plugged", "negotiating", "charging"):
            charging.move(state)
        answer = await csms.trigger(STATION, "MeterValues", evse_id=1)
        assert answer.status == "Accepted"
        await csms.wait_for(lambda: csms.calls("MeterValues"), 5)
        [only] = csms.calls("MeterValues")
        assert only["evseId"] == 1 and _register(only) == (12_345.0, "Trigger")
        assert (await csms.trigger(STATION, "MeterValues")).status == "Accepted"
        await csms.wait_for(lambda: len(csms.calls("MeterValues")) >= 3, 5)
        every = csms.calls("MeterValues")[1:]
        assert [m["evseId"] for m in every] == [1, 2]
        assert _register(every[1]) == (777_000.0, "Trigger")  # in a transaction: the meter's register too
        assert (await csms.trigger(STATION, "MeterValues", evse_id=9)).status == "Rejected"
    assert csms.violations == []


@run_async
async def test_meter_values_without_a_fresh_meter_outside_a_transaction_still_say_something():
    silent = FakeConnector(1)
    async with station_and_csms([silent]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await csms.trigger(STATION, "MeterValues", evse_id=1)).status == "Accepted"
        [payload] = await csms.wait_for(lambda: csms.calls("MeterValues"), 5)
        assert {s["measurand"] for s in payload["meterValue"][0]["sampledValue"]} == {
            "Power.Active.Import", "Current.Import", "Voltage"}  # no register is guessed
    assert csms.violations == []


@pytest.mark.parametrize("message", ["Heartbeat", "StatusNotification", "TransactionEvent", "MeterValues",
                                     "SignChargingStationCertificate"])
@run_async
async def test_every_trigger_of_a_built_block_is_accepted(message):
    async with station_and_csms([FakeConnector(1)]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        assert (await csms.trigger(STATION, message)).status == "Accepted"
        assert (await csms.trigger(STATION, "BootNotification")).status == "Rejected"  # already accepted
    assert csms.violations == []
