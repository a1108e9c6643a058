"""Variable monitoring: SetVariableMonitoring's answers, thresholds and Delta crossing into NotifyEvent with the
monitor's id, ClearVariableMonitoring, monitors kept across a restart, and the same over a real link."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from ocpp.v201 import call

from controller.ocpp.monitoring import VariableMonitors
from controller.store.ocpp_monitors import MonitorStore
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(60)


class Readings:
    """A connector as the monitors read it: snapshot voltage, the I/O board's temperatures, the group."""

    def __init__(self, cid: int):
        self.cfg = SimpleNamespace(id=cid)
        self.volts = 0.0
        self.io = SimpleNamespace(status=SimpleNamespace(temp_dc_plus_c=30.0, temp_dc_minus_c=31.0, temp_cable_c=29.0))
        self.group = SimpleNamespace(hottest_module_c=45.0, capabilities=SimpleNamespace(healthy_count=4))

    def snapshot(self) -> dict:
        return {"voltage_v": self.volts}


def _monitors(connectors, store=None, tx=None):
    sent: list[dict] = []
    ids = iter(range(100, 1000))
    monitors = VariableMonitors({c.cfg.id: c for c in connectors}, store, sent.append, lambda: 1_800_000_000.0,
                                lambda: next(ids), lambda evse: (tx or {}).get(evse))
    return monitors, sent


def _request(kind: str, value: float, component: str = "EVSE", name: str = "DCVoltage", evse: int | None = 1,
             **extra) -> dict:
    comp = {"name": component, **({"evse": {"id": evse}} if evse is not None else {})}
    if component == "Connector":
        comp["evse"]["connector_id"] = 1
    return {"type": kind, "value": value, "severity": 3, "component": comp, "variable": {"name": name}, **extra}


def _events(sent: list[dict]) -> list[tuple]:
    return [(e["variableMonitoringId"], e["trigger"], e["actualValue"], bool(e.get("cleared")))
            for payload in sent for e in payload["eventData"]]


def test_an_upper_threshold_alerts_when_crossed_and_clears_when_back():
    connector = Readings(1)
    monitors, sent = _monitors([connector])
    (result,) = monitors.set([_request("UpperThreshold", 500.0)])
    assert result["status"] == "Accepted" and result["id"] == 1
    for volts in (400.0, 520.0, 530.0, 480.0, 470.0):
        connector.volts = volts
        monitors.sample()
    assert _events(sent) == [(1, "Alerting", "520", False), (1, "Alerting", "480", True)]
    event = sent[0]["eventData"][0]
    assert event["eventNotificationType"] == "CustomMonitor" and event["component"] == {"name": "EVSE", "evse": {"id": 1}}
    assert event["eventId"] == 100


def test_lower_threshold_and_delta_on_temperature_and_module_count():
    connector = Readings(1)
    monitors, sent = _monitors([connector])
    results = monitors.set([_request("LowerThreshold", 3, name="AvailableModules"),
                            _request("Delta", 5.0, component="Connector", name="Temperature"),
                            _request("UpperThreshold", 60.0, component="ChargingStation", name="Temperature", evse=None)])
    assert [r["status"] for r in results] == ["Accepted"] * 3
    monitors.sample()  # the Delta's reference
    connector.group.capabilities.healthy_count = 2
    connector.io.status.temp_cable_c = 37.0  # hottest 31 -> 37
    connector.group.hottest_module_c = 61.0
    monitors.sample()
    assert sorted(_events(sent)) == [(1, "Alerting", "2", False), (2, "Delta", "37", False), (3, "Alerting", "61", False)]


@pytest.mark.parametrize("request_, status", [
    (_request("Periodic", 10.0), "UnsupportedMonitorType"),
    (_request("UpperThreshold", 1.0, name="Nothing"), "UnknownVariable"),
    (_request("UpperThreshold", 1.0, component="Nowhere"), "UnknownComponent"),
    (_request("UpperThreshold", 1.0, evse=9), "UnknownComponent"),
    (_request("Delta", 0.0), "Rejected"),
    (_request("UpperThreshold", 1.0, id=77), "Rejected"),  # replaces a monitor that does not exist
])
def test_what_cannot_be_monitored_is_refused_with_its_reason(request_, status):
    monitors, _ = _monitors([Readings(1)])
    assert monitors.set([request_])[0]["status"] == status
    assert monitors.monitors == {}


def test_a_duplicate_is_refused_and_clear_answers_per_id():
    monitors, _ = _monitors([Readings(1)])
    assert monitors.set([_request("UpperThreshold", 500.0)])[0]["status"] == "Accepted"
    assert monitors.set([_request("UpperThreshold", 600.0)])[0]["status"] == "Duplicate"
    assert monitors.set([_request("UpperThreshold", 600.0, id=1)])[0]["status"] == "Accepted"  # replaced
    assert monitors.monitors[1].value == 600.0
    assert monitors.clear([1, 5]) == [{"id": 1, "status": "Accepted"}, {"id": 5, "status": "NotFound"}]
    assert monitors.set([_request("UpperThreshold", 600.0)])[0]["id"] == 2  # 1 is not given again


def test_a_transaction_monitor_watches_only_during_a_transaction():
    connector = Readings(1)
    tx: dict = {}
    monitors, sent = _monitors([connector], tx=tx)
    monitors.set([_request("UpperThreshold", 100.0, transaction=True)])
    connector.volts = 400.0
    monitors.sample()
    assert sent == []
    tx[1] = "TX-1"
    monitors.sample()
    assert _events(sent) == [(1, "Alerting", "400", False)] and sent[0]["eventData"][0]["transactionId"] == "TX-1"


def test_monitors_are_kept_across_a_restart(tmp_path):
    path = tmp_path / "store.db"
    monitors, _ = _monitors([Readings(1)], MonitorStore(path))
    monitors.set([_request("UpperThreshold", 500.0), _request("LowerThreshold", 10.0)])
    monitors.clear([2])
    monitors.close()
    again, sent = _monitors([Readings(1)], MonitorStore(path))
    assert [(m.id, m.type, m.value) for m in again.monitors.values()] == [(1, "UpperThreshold", 500.0)]
    again.close()


@run_async
async def test_over_the_link_a_threshold_fires_a_notify_event_and_the_model_reports_the_value():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 20)
        peer = csms.peer(STATION)
        answer = await peer.call(call.SetVariableMonitoring(set_monitoring_data=[{
            "value": 300.0, "type": "UpperThreshold", "severity": 2,
            "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "DCVoltage"}}]))
        assert answer.set_monitoring_result[0]["status"] == "Accepted"
        connector.state = "charging"  # FakeConnector's snapshot: 400 V while charging
        service.monitors.sample()
        events = await csms.wait_for(lambda: [e for p in csms.calls("NotifyEvent") for e in p["eventData"]
                                              if e.get("variableMonitoringId") == 1], 20)
        assert events[0]["trigger"] == "Alerting" and events[0]["actualValue"] == "400"
        got = await peer.call(call.GetVariables(get_variable_data=[{
            "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "DCVoltage"}}]))
        assert got.get_variable_result[0]["attribute_value"] == "400"
        report = await peer.call(call.GetMonitoringReport(request_id=9, monitoring_criteria=["ThresholdMonitoring"]))
        assert report.status == "Accepted"
        (sent,) = await csms.wait_for(lambda: csms.calls("NotifyMonitoringReport"), 20)
        assert sent["requestId"] == 9 and sent["monitor"] == [{
            "component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "DCVoltage"},
            "variableMonitoring": [{"id": 1, "transaction": False, "value": 300.0, "type": "UpperThreshold",
                                    "severity": 2}]}]
        empty = await peer.call(call.GetMonitoringReport(request_id=10, monitoring_criteria=["DeltaMonitoring"]))
        assert empty.status == "EmptyResultSet"
        cleared = await peer.call(call.ClearVariableMonitoring(id=[1, 2]))
        assert [r["status"] for r in cleared.clear_monitoring_result] == ["Accepted", "NotFound"]
        assert not csms.violations


def test_the_monitoring_report_picks_by_component_and_variable():
    reported: list[dict] = []
    monitors = VariableMonitors({1: Readings(1), 2: Readings(2)}, None, lambda p: None, lambda: 0.0, lambda: 1,
                                lambda evse: None, report=reported.append)
    monitors.set([_request("UpperThreshold", 500.0), _request("UpperThreshold", 500.0, evse=2),
                  _request("Delta", 2.0, component="Connector", name="Temperature", evse=2)])
    assert monitors.report(1, None, [{"component": {"name": "EVSE", "evse": {"id": 2}}}]) == "Accepted"
    assert [m["variableMonitoring"][0]["id"] for m in reported[0]["monitor"]] == [2]
    assert monitors.report(2, None, None) == "Accepted" and len(reported[1]["monitor"]) == 3
    assert monitors.report(3, ["PeriodicMonitoring"], None) == "EmptyResultSet" and len(reported) == 2
