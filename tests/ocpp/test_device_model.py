"""The device model against the rig's CSMS (every frame schema-checked): GetVariables / SetVariables with the
spec's statuses, GetBaseReport answered by NotifyReport in parts, and values the CSMS set kept across a
restart while the configuration gives the defaults."""
from __future__ import annotations

import pytest

from controller.ocpp.device_model import DeviceModel
from controller.ocpp.provisioning import REPORT_PART
from controller.store.ocpp_variables import VariableStore
from controller.formats.cabinet.config import OcppConfig
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


def item(component: str, variable: str, evse: int | None = None, connector: int | None = None,
         instance: str | None = None, **extra) -> dict:
    comp: dict = {"name": component}
    if evse is not None:
        comp["evse"] = {"id": evse, **({"connectorId": connector} if connector else {})}
    var: dict = {"name": variable, **({"instance": instance} if instance else {})}
    return {"component": comp, "variable": var, **extra}


def nacs_and_ccs1() -> list[FakeConnector]:
    ccs1, nacs = FakeConnector(1), FakeConnector(2)
    nacs.cfg.type = "NACS"
    return [ccs1, nacs]


async def _accepted(service, csms):
    await csms.wait_for(lambda: service.accepted
                        and len(csms.calls("StatusNotification")) >= len(service.connectors), 5)


async def _get(csms, items) -> list[tuple[str, str | None]]:
    answer = await csms.get_variables(STATION, items)
    return [(r["attribute_status"], r.get("attribute_value")) for r in answer.get_variable_result]


async def _set(csms, items) -> list[str]:
    answer = await csms.set_variables(STATION, items)
    return [r["attribute_status"] for r in answer.set_variable_result]


@run_async
async def test_get_variables_answers_values_and_the_specs_statuses():
    connectors = nacs_and_ccs1()
    connectors[1].faults.append("ISOLATION_FAULT")
    async with station_and_csms(connectors) as (service, csms):
        await _accepted(service, csms)
        answers = await _get(csms, [
            item("OCPPCommCtrlr", "HeartbeatInterval"), item("SampledDataCtrlr", "TxUpdatedInterval"),
            item("SecurityCtrlr", "SecurityProfile"), item("TxCtrlr", "TxStartPoint"),
            item("Connector", "ConnectorType", 1, 1), item("Connector", "ConnectorType", 2, 1),
            item("EVSE", "AvailabilityState", 1), item("Connector", "AvailabilityState", 2, 1),
            item("OCPPCommCtrlr", "MessageAttempts", instance="TransactionEvent"),
            item("NoSuchCtrlr", "Enabled"), item("OCPPCommCtrlr", "NoSuchVariable"),
            item("EVSE", "AvailabilityState", 9), item("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target")])
        assert csms.violations == []
    assert answers == [
        ("Accepted", "300"), ("Accepted", "3600"), ("Accepted", "1"), ("Accepted", "EVConnected"),
        ("Accepted", "cCCS1"), ("Accepted", "cTesla"), ("Accepted", "Available"), ("Accepted", "Faulted"),
        ("Accepted", "3"), ("UnknownComponent", None), ("UnknownVariable", None), ("UnknownComponent", None),
        ("NotSupportedAttributeType", None)]


@run_async
async def test_set_variables_statuses_and_a_changed_interval_is_in_force():
    connectors = [FakeConnector(1)]
    async with station_and_csms(connectors) as (service, csms):
        await _accepted(service, csms)
        statuses = await _set(csms, [
            item("SampledDataCtrlr", "TxUpdatedInterval", attributeValue="1"),
            item("SecurityCtrlr", "SecurityProfile", attributeValue="3"),  # a downgrade path: never by a Set
            item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="soon"),
            item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="0"),
            item("OCPPCommCtrlr", "WebSocketPingInterval", attributeValue="10"),
            item("TxCtrlr", "TxStartPoint", attributeValue="ParkingBayOccupancy"),  # no bay sensor here
            item("TxCtrlr", "TxStopPoint", attributeValue="EVConnected"),
            item("Nowhere", "Thing", attributeValue="1"),
            item("TxCtrlr", "Nothing", attributeValue="1"),
            item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="5", attributeType="MaxSet")])
        assert statuses == ["Accepted", "Rejected", "Rejected", "Rejected", "RebootRequired", "Rejected",
                            "Accepted", "UnknownComponent", "UnknownVariable", "NotSupportedAttributeType"]
        assert service.device_model.number("SampledDataCtrlr", "TxUpdatedInterval") == 1.0
        assert service.cfg.websocket_ping_interval_s == 5.0  # RebootRequired: not before the next start
        for state in ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge",
                      "charging"):
            connectors[0].move(state)
        await csms.wait_for(lambda: any(e["triggerReason"] == "MeterValuePeriodic"
                                        for e in csms.calls("TransactionEvent")), 5)  # 1 s, not the 3600 s
        assert (await _get(csms, [item("SecurityCtrlr", "SecurityProfile")])) == [("Accepted", "1")]
        assert csms.violations == []


@run_async
async def test_values_the_csms_set_survive_a_restart_and_the_config_gives_the_rest(tmp_path):
    path = tmp_path / "store.db"
    async with station_and_csms([FakeConnector(1)], variables=VariableStore(path)) as (service, csms):
        await _accepted(service, csms)
        assert await _set(csms, [item("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="77"),
                                 item("OCPPCommCtrlr", "WebSocketPingInterval", attributeValue="10")]) \
            == ["Accepted", "RebootRequired"]
        service.device_model.close()
    async with station_and_csms([FakeConnector(1)], variables=VariableStore(path),
                                meter_interval_s=42.0) as (service, csms):
        await _accepted(service, csms)
        answers = await _get(csms, [item("OCPPCommCtrlr", "HeartbeatInterval"),
                                    item("OCPPCommCtrlr", "WebSocketPingInterval"),
                                    item("SampledDataCtrlr", "TxUpdatedInterval")])
        assert service.cfg.websocket_ping_interval_s == 10.0  # in force after the restart
        service.device_model.close()
    # the set HeartbeatInterval wins over the BootNotification's 300; the unset one is the config's
    assert answers == [("Accepted", "77"), ("Accepted", "10"), ("Accepted", "42")]


@run_async
async def test_get_base_report_comes_as_notify_report_parts():
    async with station_and_csms(nacs_and_ccs1()) as (service, csms):
        await _accepted(service, csms)
        full = await csms.get_base_report(STATION, 5, "FullInventory")
        summary = await csms.get_base_report(STATION, 6, "SummaryInventory")
        assert full.status == "Accepted" and summary.status == "NotSupported"
        parts = await csms.wait_for(lambda: [p for p in csms.calls("NotifyReport") if p["requestId"] == 5
                                             and not p.get("tbc", False)] and csms.calls("NotifyReport"), 5)
        config = await csms.get_base_report(STATION, 7, "ConfigurationInventory")
        assert config.status == "Accepted"
        await csms.wait_for(lambda: any(p["requestId"] == 7 for p in csms.calls("NotifyReport")), 5)
        config_parts = [p for p in csms.calls("NotifyReport") if p["requestId"] == 7]
        assert csms.violations == []
    assert len(parts) >= 2 and [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert [p.get("tbc", False) for p in parts] == [True] * (len(parts) - 1) + [False]
    entries = [e for p in parts for e in p["reportData"]]
    assert all(len(p["reportData"]) <= REPORT_PART for p in parts)
    names = {(e["component"]["name"], e["component"].get("evse", {}).get("id"), e["variable"]["name"]):
             e["variableAttribute"][0]["value"] for e in entries}
    assert names[("Connector", 2, "ConnectorType")] == "cTesla" and names[("ChargingStation", None,
                                                                         "AvailabilityState")] == "Available"
    assert names[("SecurityCtrlr", None, "SecurityProfile")] == "1"
    writable = [e for p in config_parts for e in p["reportData"]]
    assert writable and all(e["variableAttribute"][0]["mutability"] == "ReadWrite" for e in writable)
    assert len(writable) < len(entries)


def test_a_stored_value_of_a_variable_that_no_longer_exists_is_ignored(tmp_path):
    store = VariableStore(tmp_path / "v.db")
    store.save("OldCtrlr////", "1")
    model = DeviceModel(OcppConfig(meter_interval_s=0.5), "S", {1: "CCS1"}, lambda evse: "Available", store)
    assert model.number("SampledDataCtrlr", "TxUpdatedInterval") == 0.5  # the config's own value until set
    assert model.get({"name": "SampledDataCtrlr"}, {"name": "TxUpdatedInterval"}, None) == ("Accepted", "1")
    model.close()
