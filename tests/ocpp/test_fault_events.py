"""Faults to the CSMS: a NotifyEvent for every fault raised and cleared, with the ChargeX MREC (CX0nn) where one
applies; the MREC map covers only catalogue codes; the console shows the MREC too."""
from __future__ import annotations

import re

import pytest

from controller.console.formatting import event_text
from controller.faults import CATALOGUE, MREC
from controller.formats.events import FaultCleared, FaultRaised
from tests.ocpp.harness import FakeConnector, run_async, station_and_csms

pytestmark = pytest.mark.timeout(30)

# the MREC names (ChargeX MREC Rev 5, as EVerest's OCPP error mapping lists them with their CX codes)
MREC_NAMES = {1: "ConnectorLockFailure", 2: "GroundFailure", 3: "HighTemperature", 4: "OverCurrentFailure",
              5: "OverVoltage", 6: "UnderVoltage", 8: "EmergencyStop", 10: "InvalidVehicleMode",
              11: "CableCheckFault", 14: "PilotFault", 15: "PowerLoss", 17: "EVSEContactorFault",
              18: "CableOverTempDerate", 19: "CableOverTempStop", 20: "PartialInsertion", 22: "ResistanceFault",
              23: "ProximityFault", 24: "ConnectorVoltageHigh", 25: "BrokenLatch", 26: "CutCable"}


def test_the_mrec_map_names_catalogue_faults_and_real_mrec_codes():
    for code, (cx, name) in MREC.items():
        assert code in CATALOGUE, code
        number = int(re.fullmatch(r"CX0(\d\d)", cx).group(1))
        assert MREC_NAMES[number] == name, (code, cx, name)
    assert MREC["ESTOP_PRESSED"] == ("CX008", "EmergencyStop")
    assert MREC["CONNECTOR_LOCK_FAILURE"] == ("CX001", "ConnectorLockFailure")
    assert "METER_LOST" not in MREC  # no MREC of its own


def _events(csms):
    return [payload["eventData"][0] for payload in csms.calls("NotifyEvent")]


@run_async
async def test_every_fault_raised_and_cleared_is_a_notify_event_with_its_mrec():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.wait_for(lambda: csms.calls("StatusNotification"), 5)
        connector.faults.append("ESTOP_PRESSED")
        connector.sink(FaultRaised(1, "ESTOP_PRESSED", "emergency", "button 1", 0.0))
        connector.sink(FaultRaised(1, "METER_LOST", "error", "", 0.0))
        connector.sink(FaultRaised(None, "STORE_WRITE_FAILED", "warning", "disk full", 0.0))
        connector.faults.clear()
        connector.sink(FaultCleared(1, "ESTOP_PRESSED", "emergency", "", 0.0))
        await csms.wait_for(lambda: len(_events(csms)) == 4, 5)
        await csms.wait_for(lambda: csms.calls("StatusNotification")[-1]["connectorStatus"] == "Available", 5)
    estop, meter, store, cleared = _events(csms)
    assert estop["techCode"] == "CX008" and estop["trigger"] == "Alerting" and estop["actualValue"] == "true"
    assert "EmergencyStop" in estop["techInfo"] and "ESTOP_PRESSED (emergency): button 1" in estop["techInfo"]
    assert estop["component"] == {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}
    assert estop["variable"] == {"name": "Problem"} and "cleared" not in estop
    assert meter["techCode"] == "METER_LOST" and meter["techInfo"] == "METER_LOST (error)"
    assert store["component"] == {"name": "ChargingStation"}
    assert cleared["cleared"] is True and cleared["trigger"] == "Delta" and cleared["actualValue"] == "false"
    assert cleared["cause"] == estop["eventId"] and cleared["techCode"] == "CX008"
    assert len({e["eventId"] for e in (estop, meter, store, cleared)}) == 4
    assert [s["connectorStatus"] for s in csms.calls("StatusNotification")] == ["Available", "Faulted", "Available"]
    assert csms.violations == []


@run_async
async def test_a_fault_while_offline_reaches_the_csms_when_the_link_is_up():
    connector = FakeConnector(1)
    async with station_and_csms([connector]) as (service, csms):
        await csms.stop()  # the CSMS goes away
        await csms.wait_for(lambda: not service.accepted, 5)
        connector.sink(FaultRaised(1, "CP_STATE_E", "emergency", "", 0.0))
        await csms.start()
        await csms.wait_for(lambda: _events(csms), 10)
    assert _events(csms)[0]["techCode"] == "CX014"
    assert csms.violations == []


def test_the_console_log_line_names_the_mrec():
    assert event_text("fault", "", {"code": "ESTOP_PRESSED", "severity": "emergency", "detail": "b"}) == \
        "ESTOP_PRESSED raised (emergency, MREC CX008): b"
    assert event_text("fault", "", {"code": "METER_LOST", "severity": "error"}) == "METER_LOST raised (error)"
