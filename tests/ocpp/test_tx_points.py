"""TxStartPoint / TxStopPoint: EVConnected, Authorized, PowerPathClosed, EnergyTransfer, with the trigger
reasons and the rules for lists (start at the first point that holds, end when the first stop point that held
no longer does, none again before the car leaves); settable by SetVariables."""
from __future__ import annotations

import random

import pytest

from controller.ocpp import OcppService
from controller.store.ocpp_variables import VariableStore
from controller.ocpp.tx_points import parse_points, start_trigger, stop_trigger
from tests.ocpp.harness import STATION, FakeConnector, run_async, station_and_csms, station_config

pytestmark = pytest.mark.timeout(30)
TO_CHARGING = ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check", "precharge", "charging")
TO_UNPLUG = ("stopping", "welding_detection", "session_end", "available")
TOKEN = {"idToken": "T1", "type": "Central"}


def _station(start: str = "EVConnected", stop: str = "EVConnected"):
    variables = VariableStore()
    variables.save("TxCtrlr///TxStartPoint/", start)
    variables.save("TxCtrlr///TxStopPoint/", stop)
    connector = FakeConnector(1)
    service = OcppService(station_config("ws://127.0.0.1:9"), STATION, [connector], variables=variables,
                          clock=lambda: 0.0, rng=random.Random(1))
    connector.sink = service.on_event
    return service, connector


def _events(service):
    return [m.payload for m in service.queue.pending()]


def _summary(service):
    return [(e["eventType"], e["triggerReason"], e["transactionInfo"]["chargingState"]) for e in _events(service)]


def _drive(connector, states):
    for state in states:
        connector.move(state)


def test_parse_points_keeps_known_points_in_order():
    assert parse_points("EnergyTransfer, EVConnected,ParkingBayOccupancy") == ("EVConnected", "EnergyTransfer")


def test_the_default_is_plug_in_to_unplug():
    service, connector = _station()
    _drive(connector, TO_CHARGING + TO_UNPLUG)
    summary = _summary(service)
    assert summary[0][:2] == ("Started", "CablePluggedIn") and summary[-1][:2] == ("Ended", "EVDeparted")


def test_start_at_authorized_by_a_remote_start_before_the_car_came():
    service, connector = _station(start="Authorized")
    assert service.remote_start(1, TOKEN, 7) == ("Accepted", None)
    connector.move("plugged")
    started = _events(service)[0]
    assert started["eventType"] == "Started" and started["triggerReason"] == "RemoteStart"
    assert started["idToken"] == TOKEN and started["transactionInfo"]["remoteStartId"] == 7


def test_start_at_authorized_waits_for_the_authorization_and_a_remote_start_names_the_transaction():
    service, connector = _station(start="Authorized")
    _drive(connector, ("plugged", "negotiating", "authorizing"))
    assert _events(service) == []  # plugged in, not yet authorized: no transaction
    status, tx_id = service.remote_start(1, TOKEN, 8)
    started = _events(service)[0]
    assert status == "Accepted" and tx_id == started["transactionInfo"]["transactionId"]
    assert started["triggerReason"] == "RemoteStart" and started["idToken"] == TOKEN


def test_start_at_authorized_by_a_local_authorization():
    service, connector = _station(start="Authorized")
    _drive(connector, ("plugged", "negotiating", "authorizing"))
    connector.authorize()  # the car's own authorization (EIM at the charger, Autocharge)
    connector.move("parameter_discovery")
    assert _summary(service) == [("Started", "Authorized", "EVConnected")]


@pytest.mark.parametrize("start,at_state,charging_state", [
    ("PowerPathClosed", "cable_check", "EVConnected"), ("EnergyTransfer", "charging", "Charging")])
def test_start_at_the_power_path_or_the_energy(start, at_state, charging_state):
    service, connector = _station(start=start)
    connector.authorize()
    for state in TO_CHARGING:
        connector.move(state)
        if state != at_state:
            continue
        assert _summary(service) == [("Started", "ChargingStateChanged", charging_state)]
    assert _events(service)[0]["timestamp"]


def test_a_list_starts_at_its_first_point_that_holds():
    service, connector = _station(start="EnergyTransfer,EVConnected")
    connector.move("plugged")
    assert _summary(service) == [("Started", "CablePluggedIn", "EVConnected")]


def test_stop_at_energy_transfer_ends_when_charging_ends_and_none_starts_again_before_the_car_leaves():
    service, connector = _station(stop="EnergyTransfer")
    _drive(connector, TO_CHARGING)
    connector.session.stop_reason = "ev_stop"
    _drive(connector, TO_UNPLUG)
    summary = _summary(service)
    assert summary[-1] == ("Ended", "ChargingStateChanged", "Idle")
    assert _events(service)[-1]["transactionInfo"]["stoppedReason"] == "StoppedByEV"
    assert [s[0] for s in summary].count("Started") == 1  # not again at welding detection or session end
    connector.move("plugged")  # the next car
    assert _summary(service)[-1][:2] == ("Started", "CablePluggedIn")


def test_energy_transfer_to_energy_transfer_makes_one_transaction_per_charging_spell():
    service, connector = _station(start="EnergyTransfer", stop="EnergyTransfer")
    _drive(connector, TO_CHARGING)
    connector.move("stopping")
    connector.move("charging")  # charging again on the same plug-in
    connector.move("stopping")
    connector.move("available")
    summary = [(e["eventType"], e["transactionInfo"]["transactionId"]) for e in _events(service)]
    assert [kind for kind, _ in summary] == ["Started", "Ended", "Started", "Ended"]
    assert summary[0][1] == summary[1][1] != summary[2][1] == summary[3][1]


def test_stop_at_energy_transfer_does_not_end_a_transaction_that_never_charged_before_the_unplug():
    service, connector = _station(stop="EnergyTransfer")
    _drive(connector, ("plugged", "negotiating", "authorizing"))
    assert [s[0] for s in _summary(service)] == ["Started"]
    connector.move("available")
    assert _summary(service)[-1][:2] == ("Ended", "EVDeparted")
    assert _events(service)[-1]["transactionInfo"]["stoppedReason"] == "EVDisconnected"


def test_stop_at_authorized_ends_at_the_remote_stop():
    service, connector = _station(stop="Authorized")
    _drive(connector, ("plugged", "negotiating", "authorizing"))
    tx_id = _events(service)[0]["transactionInfo"]["transactionId"]
    service.remote_start(1, TOKEN, 3)
    _drive(connector, TO_CHARGING[3:])
    assert service.remote_stop(tx_id) == "Accepted"
    ended = _events(service)[-1]
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "RemoteStop")
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    assert not any(e["triggerReason"] == "RemoteStop" and e["eventType"] == "Updated" for e in _events(service))


def test_stop_at_authorized_ends_at_a_local_stop():
    service, connector = _station(stop="Authorized")
    connector.authorize()
    _drive(connector, TO_CHARGING)
    connector.request_stop("user_stop")
    connector.move("stopping")
    ended = _events(service)[-1]
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "StopAuthorized")
    assert ended["transactionInfo"]["stoppedReason"] == "Local"


def test_stop_at_power_path_closed_ends_at_an_emergency_as_abnormal():
    service, connector = _station(stop="PowerPathClosed")
    _drive(connector, TO_CHARGING)
    connector.faults.append("ESTOP_PRESSED")
    connector.session.stop_reason = "emergency:ESTOP_PRESSED"
    connector.move("emergency")
    ended = _events(service)[-1]
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "AbnormalCondition")
    assert ended["transactionInfo"]["stoppedReason"] == "EmergencyStop"


def test_the_rules_as_functions():
    held = {"EVConnected": True, "Authorized": False, "PowerPathClosed": False, "EnergyTransfer": False}
    assert start_trigger(("Authorized", "EnergyTransfer"), held, remote=False) is None
    assert stop_trigger(("Authorized",), held, set(), "plugged", False) is None  # never authorized: goes on
    assert stop_trigger(("Authorized",), held, {"Authorized"}, "plugged", False) == "StopAuthorized"
    gone = dict(held, EVConnected=False)
    assert stop_trigger(("EnergyTransfer",), gone, set(), "available", True) == "RemoteStop"


@run_async
async def test_tx_start_point_set_by_the_csms_is_in_force_for_the_next_car():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: service.accepted, 5)
        answer = await csms.set_variables("CAB-1", [
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"},
             "attributeValue": "EnergyTransfer"},
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStopPoint"},
             "attributeValue": "EVConnected,EnergyTransfer"}])
        assert [r["attribute_status"] for r in answer.set_variable_result] == ["Accepted", "Accepted"]
        _drive(connector, TO_CHARGING)
        connector.move("stopping")
        await csms.wait_for(lambda: len(csms.calls("TransactionEvent")) == 2 and len(service.queue) == 0, 5)
    started, ended = csms.calls("TransactionEvent")
    assert (started["eventType"], started["triggerReason"]) == ("Started", "ChargingStateChanged")
    assert started["transactionInfo"]["chargingState"] == "Charging"
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "ChargingStateChanged")
    assert csms.violations == []


def test_a_car_leaving_a_latched_emergency_ends_the_transaction_at_the_next_tick():
    """The emergency is latched: the connector keeps its state after the unplug, which raises no phase event.
    TxStopPoint EVConnected wants the Ended at the unplug, not when the fault is cleared some day."""
    service, connector = _station()
    _drive(connector, TO_CHARGING + ("emergency",))
    assert service._follower.departed_unseen(service.connectors) == []  # the car is still there
    connector.cp_state = "A"
    departed = service._follower.departed_unseen(service.connectors)
    assert departed == [connector]
    service._follow(connector)  # what the service's one-second tick does with them
    assert _summary(service)[-1][:2] == ("Ended", "EVDeparted")
    assert service._follower.departed_unseen(service.connectors) == []  # ended once
