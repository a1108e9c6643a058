"""TransactionEvent payloads: stoppedReason from the connector's reasons, seqNo, the idToken once."""
from __future__ import annotations

import json

import pytest

from controller.ocpp.transactions import Transaction, stopped_reason
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("reason,remote,expected", [
    ("remote", False, "Remote"), ("ev_stop", True, "Remote"), ("ev_stop", False, "StoppedByEV"),
    ("user_stop", False, "Local"), ("console_stop", False, "Local"), ("unplugged", False, "EVDisconnected"),
    ("", False, "EVDisconnected"), ("emergency:ESTOP_PRESSED", False, "EmergencyStop"),
    ("emergency:ISOLATION_FAULT", False, "GroundFault"), ("error:OUTPUT_OVERCURRENT", False, "OvercurrentFault"),
    ("emergency:UNPLUGGED_UNDER_LOAD", False, "EVDisconnected"), ("error:METER_LOST", False, "Other"),
    ("emergency", False, "EmergencyStop"), ("something_new", False, "Other"),
])
def test_stopped_reason(reason, remote, expected):
    assert stopped_reason(reason, remote) == expected


def test_seq_no_counts_every_event_and_the_token_goes_once():
    tx = Transaction(evse_id=2)
    started = tx.event("Started", "CablePluggedIn", 0.0)
    assert started["evse"] == {"id": 2, "connectorId": 1} and started["seqNo"] == 0
    tx.id_token, tx.remote_start_id = {"idToken": "A", "type": "Central"}, 9
    authorized = tx.event("Updated", "RemoteStart", 1.0)
    assert authorized["idToken"]["idToken"] == "A" and authorized["transactionInfo"]["remoteStartId"] == 9
    later = tx.event("Updated", "ChargingStateChanged", 2.0)
    assert "idToken" not in later and "remoteStartId" not in later["transactionInfo"]
    assert [started["seqNo"], authorized["seqNo"], later["seqNo"]] == [0, 1, 2]
    assert later["timestamp"] == "1970-01-01T00:00:02.000Z"


@run_async
async def test_an_emergency_while_charging_is_faulted_then_ended_with_its_reason():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        for state in ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge",
                      "charging"):
            connector.move(state)
        connector.faults.append("ESTOP_PRESSED")
        connector.session.stop_reason = "emergency:ESTOP_PRESSED"
        connector.move("emergency")
        await csms.wait_for(lambda: csms.calls("StatusNotification")[-1]["connectorStatus"] == "Faulted", 5)
        connector.faults.clear()
        connector.move("available")
        await csms.wait_for(lambda: csms.calls("TransactionEvent")[-1]["eventType"] == "Ended"
                            and csms.calls("StatusNotification")[-1]["connectorStatus"] == "Available", 5)
    events = csms.calls("TransactionEvent")
    suspended = [e for e in events if e["transactionInfo"]["chargingState"] == "SuspendedEVSE"]
    assert suspended and suspended[0]["triggerReason"] == "AbnormalCondition"
    assert events[-1]["transactionInfo"]["stoppedReason"] == "EmergencyStop"
    assert [s["connectorStatus"] for s in csms.calls("StatusNotification")][-2:] == ["Faulted", "Available"]
    assert csms.violations == []


@run_async
async def test_status_and_transaction_events_go_out_in_the_order_they_happened():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.move("plugged")  # Started, then Occupied
        connector.faults.append("ESTOP_PRESSED")
        connector.move("emergency")  # Updated SuspendedEVSE, then Faulted
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) >= 3, 5)
    order = []
    for entry in csms.traffic:
        if entry["dir"] == "in" and ('"StatusNotification"' in entry["frame"] or '"TransactionEvent"' in entry["frame"]):
            frame = json.loads(entry["frame"])
            order.append(frame[3].get("connectorStatus") or frame[3]["eventType"])
    assert order == ["Available", "Started", "Occupied", "Updated", "Faulted"]


@run_async
async def test_a_plug_in_without_a_session_does_not_inherit_the_last_cars_stop_reason():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        for state in ("plugged", "negotiating", "charging"):
            connector.move(state)
        connector.session.stop_reason = "emergency:ESTOP_PRESSED"
        connector.move("available")  # first car: ended by the e-stop
        connector.move("plugged")
        connector.move("available")  # second car: unplugged before any session
        await csms.wait_for(lambda: sum(e["eventType"] == "Ended" for e in csms.calls("TransactionEvent")) == 2
                            and len(service.queue) == 0, 5)
    ended = [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Ended"]
    assert [e["transactionInfo"]["stoppedReason"] for e in ended] == ["EmergencyStop", "EVDisconnected"]
    assert ended[1]["meterValue"][0]["sampledValue"][0]["value"] == 0.0  # not the first car's energy
