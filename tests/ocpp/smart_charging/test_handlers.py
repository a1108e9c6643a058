"""Block K over OCPP-J with the rig's CSMS (strict schemas): SetChargingProfile accepted and rejected,
the limit in the connector's Limits at once, ClearChargingProfile by id and by criteria,
GetChargingProfiles answered with ReportChargingProfiles in parts, GetCompositeSchedule, SmartChargingCtrlr."""
from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace

import pytest
from ocpp.v201 import call

from controller.connector.limits import Limits
from controller.formats.cabinet.config import ConnectorConfig
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


class LimitedConnector(FakeConnector):
    """The stand-in with real Limits: a 150 kW, 500 A, 1000 V port."""

    def __post_init__(self):
        super().__post_init__()
        self.cfg = ConnectorConfig(id=self.id, type="CCS1", max_voltage_v=1000, max_current_a=500, max_power_kw=150,
                                   group="A")
        caps = SimpleNamespace(max_power_w=180_000.0, max_current_a=600.0, max_voltage_v=1000.0, min_voltage_v=150.0)
        self.limits = Limits(self.cfg, SimpleNamespace(capabilities=caps), derated_power_w=lambda: math.inf,
                             ev_parameters=lambda: None)
        self.volts = 0.0

    def present_voltage(self):
        return self.volts


def profile(pid, purpose, limit, *, level=0, unit="W", kind="Absolute", tx=None, periods=None):
    schedule = {"id": pid, "chargingRateUnit": unit,
                "chargingSchedulePeriod": periods or [{"startPeriod": 0, "limit": limit}]}
    if kind == "Absolute":
        schedule["startSchedule"] = "2020-01-01T00:00:00Z"
    data = {"id": pid, "stackLevel": level, "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
            "chargingSchedule": [schedule]}
    if tx:
        data["transactionId"] = tx
    return data


async def set_profile(csms, evse, data):
    return await csms.peer(STATION).call(call.SetChargingProfile(evse_id=evse, charging_profile=data))


async def booted(service, csms):
    await csms.wait_for(lambda: service.accepted, 5)


@run_async
async def test_station_max_is_split_over_the_evses_in_use_and_follows_at_once():
    connectors = [LimitedConnector(i) for i in (1, 2, 3, 4)]
    async with station_and_csms(connectors) as (service, csms):
        await booted(service, csms)
        for c in connectors:
            c.move("charging")
        answer = await set_profile(csms, 0, profile(1, "ChargingStationMaxProfile", 300_000))
        assert answer.status == "Accepted"
        assert [c.limits.power_w() for c in connectors] == [75_000] * 4
        assert service.smart_charging.station_limit_w() == 300_000
        connectors[3].move("available")  # one car leaves: the three others share the limit
        assert [c.limits.power_w() for c in connectors[:3]] == [100_000] * 3
        cleared = await csms.peer(STATION).call(call.ClearChargingProfile(charging_profile_id=1))
        assert cleared.status == "Accepted" and connectors[0].limits.power_w() == 150_000
        again = await csms.peer(STATION).call(call.ClearChargingProfile(charging_profile_id=1))
        assert again.status == "Unknown"
        assert not csms.violations


@run_async
async def test_tx_profile_needs_its_transaction_and_beats_tx_default_in_amps():
    connectors = [LimitedConnector(1), LimitedConnector(2)]
    async with station_and_csms(connectors) as (service, csms):
        await booted(service, csms)
        refused = await set_profile(csms, 1, profile(5, "TxProfile", 100, unit="A", kind="Relative", tx="nope"))
        assert refused.status == "Rejected" and refused.status_info["reason_code"] == "TxNotFound"
        connectors[0].move("plugged")
        connectors[0].move("charging")
        tx_id = await csms.wait_for(lambda: service.transactions.get(1) and service.transactions[1].transaction_id, 5)
        assert (await set_profile(csms, 0, profile(6, "TxDefaultProfile", 40_000, level=3))).status == "Accepted"
        assert connectors[0].limits.power_w() == 40_000 and connectors[1].limits.power_w() == 40_000
        answer = await set_profile(csms, 1, profile(7, "TxProfile", 100, unit="A", kind="Relative", tx=tx_id))
        assert answer.status == "Accepted"
        assert connectors[0].limits.external() == (math.inf, 100)  # the TxProfile replaces the default here
        assert connectors[0].limits.evse_charge_parameters().max_current_a == 100
        assert connectors[1].limits.power_w() == 40_000
        duplicate = await set_profile(csms, 2, profile(8, "TxDefaultProfile", 1000, level=3, kind="Relative"))
        assert duplicate.status == "Accepted"  # another EVSE than id 6 (evse 0)
        clash = await set_profile(csms, 0, profile(9, "TxDefaultProfile", 1000, level=3))
        assert clash.status == "Rejected" and clash.status_info["reason_code"] == "DuplicateProfile"
        connectors[0].move("available")  # the transaction ends: its TxProfile goes
        await csms.wait_for(lambda: 7 not in service.smart_charging.installed.by_id, 5)
        assert not csms.violations


@run_async
async def test_get_charging_profiles_reports_in_parts_and_composite_schedule():
    connectors = [LimitedConnector(1)]
    async with station_and_csms(connectors) as (service, csms):
        await booted(service, csms)
        for pid in range(1, 13):  # twelve TxDefaultProfiles on evse 1 (stack levels 0..8 and validity apart)
            data = profile(pid, "TxDefaultProfile", 1000.0 * pid, level=pid % 9, kind="Relative")
            if pid in (1, 2, 3):
                data["validTo"] = "2030-01-01T00:00:00Z"
            if pid in (10, 11, 12):  # the same levels as 1, 2, 3 once those have ended
                data["validFrom"] = "2031-01-01T00:00:00Z"
            assert (await set_profile(csms, 1, data)).status == "Accepted", pid
        assert (await set_profile(csms, 0, profile(20, "ChargingStationMaxProfile", 200, unit="A"))).status == "Accepted"
        answer = await csms.peer(STATION).call(call.GetChargingProfiles(request_id=77, charging_profile={}))
        assert answer.status == "Accepted"
        reports = await csms.wait_for(lambda: len(csms.calls("ReportChargingProfiles")) >= 3 and
                                      csms.calls("ReportChargingProfiles"), 5)
        assert [(r["evseId"], len(r["chargingProfile"]), r.get("tbc", False)) for r in reports] == \
            [(0, 1, True), (1, 10, True), (1, 2, False)]
        assert all(r["requestId"] == 77 for r in reports)
        none = await csms.peer(STATION).call(call.GetChargingProfiles(
            request_id=78, charging_profile={"chargingProfilePurpose": "TxProfile"}))
        assert none.status == "NoProfiles"
        connectors[0].volts = 500.0
        answer = await csms.peer(STATION).call(call.GetCompositeSchedule(duration=3600, evse_id=1,
                                                                         charging_rate_unit="W"))
        assert answer.status == "Accepted"
        periods = answer.schedule["charging_schedule_period"]
        assert periods == [{"start_period": 0, "limit": 8000.0}]  # the highest level (8): 8 kW < 200 A x 500 V
        station = await csms.peer(STATION).call(call.GetCompositeSchedule(duration=60, evse_id=0,
                                                                          charging_rate_unit="A"))
        assert station.schedule["charging_schedule_period"] == [{"start_period": 0, "limit": 200.0}]
        unknown = await csms.peer(STATION).call(call.GetCompositeSchedule(duration=60, evse_id=9))
        assert unknown.status == "Rejected"
        cleared = await csms.peer(STATION).call(call.ClearChargingProfile(
            charging_profile_criteria={"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 8}))
        assert cleared.status == "Accepted" and 8 not in service.smart_charging.installed.by_id
        assert not csms.violations


@run_async
async def test_smart_charging_ctrlr_variables_and_disabled_means_no_limit():
    connectors = [LimitedConnector(1)]
    async with station_and_csms(connectors) as (service, csms):
        await booted(service, csms)
        assert (await set_profile(csms, 1, profile(1, "TxDefaultProfile", 20_000))).status == "Accepted"
        items = [{"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": name, **extra}}
                 for name, extra in (("Enabled", {}), ("RateUnit", {}), ("PeriodsPerSchedule", {}),
                                     ("ProfileStackLevel", {}), ("Entries", {"instance": "ChargingProfiles"}))]
        got = await csms.get_variables(STATION, items)
        assert [r["attribute_value"] for r in got.get_variable_result] == ["true", "A,W", "1024", "8", "1"]
        assert connectors[0].limits.power_w() == 20_000
        done = await csms.set_variables(STATION, [{"component": {"name": "SmartChargingCtrlr"},
                                                   "variable": {"name": "Enabled"}, "attributeValue": "false"}])
        assert done.set_variable_result[0]["attribute_status"] == "Accepted"
        assert connectors[0].limits.power_w() == 150_000
        refused = await set_profile(csms, 1, profile(2, "TxDefaultProfile", 1000, level=1))
        assert refused.status == "Rejected"
        assert not csms.violations


@run_async
async def test_a_failing_limit_keeps_the_last_one_and_never_reaches_the_control_path():
    connectors = [LimitedConnector(1)]
    async with station_and_csms(connectors) as (service, csms):
        await booted(service, csms)
        assert (await set_profile(csms, 1, profile(1, "TxDefaultProfile", 20_000))).status == "Accepted"
        assert connectors[0].limits.power_w() == 20_000
        desk = service.smart_charging
        desk._tx = None  # a bug in the composite's inputs
        desk._cache.clear()  # computed again now, not the cached answer
        assert connectors[0].limits.power_w() == 20_000  # the last limit stays: neither lifted nor an exception
        assert desk._failed == {1}


@run_async
async def test_the_power_schedule_for_iso2_comes_from_the_composite():
    connectors = [LimitedConnector(1), LimitedConnector(2)]
    async with station_and_csms(connectors) as (service, csms):
        await booted(service, csms)
        assert connectors[0].limits.evse_charge_parameters().power_schedule == ()  # no profile: none
        periods = [{"startPeriod": 0, "limit": 20_000}, {"startPeriod": 600, "limit": 400_000}]
        data = profile(1, "TxDefaultProfile", None, kind="Relative", periods=periods)
        assert (await set_profile(csms, 0, data)).status == "Accepted"
        assert (await set_profile(csms, 0, profile(2, "ChargingStationMaxProfile", 200_000))).status == "Accepted"
        connectors[0].move("plugged")
        alone = connectors[0].limits.evse_charge_parameters().power_schedule
        assert [limit for _, limit in alone] == [20_000, 150_000]  # one EVSE in use: all of its 150 kW
        assert 599 <= alone[1][0] <= 600  # Relative: from the transaction's start, a moment ago
        connectors[1].move("plugged")  # every share changes at once
        both = connectors[0].limits.evse_charge_parameters().power_schedule
        # 20 kW, then the share of the station's 200 kW (two EVSEs in use: 100 kW) below the profile's 400 kW
        assert [limit for _, limit in both] == [20_000, 100_000]
