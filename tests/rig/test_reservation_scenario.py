"""The `reservation` scenario through the whole rig: the rig's CSMS reserves the connector, another idToken is
refused there, the reserved idToken's transaction carries the reservationId, and the car charges; clock-aligned
meter values (Interval 1 s) carry the Modbus meter's register."""
from __future__ import annotations

import asyncio
import json

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def _register_wh(meter_value: list[dict], context: str) -> float:
    return next(s["value"] for m in meter_value for s in m["sampledValue"]
                if s["measurand"] == "Energy.Active.Import.Register" and s["context"] == context)


def test_reservation_scenario():
    report, problems = asyncio.run(run_scenario("reservation", load_setup("desk"), protocol="din"))
    assert not problems, (problems, report)
    ocpp = report["ocpp"]
    assert ocpp["violations"] == [] and ocpp["problems"] == []
    assert ocpp["notes"] == [
        "SetVariables AlignedDataCtrlr Interval 1: Accepted", "ReserveNow 91 (expires in 1 s): Accepted",
        "ReservationStatusUpdate 91: Expired",
        "ReserveNow 92: Accepted", "CancelReservation 92: Accepted", "ReserveNow 1 evse 1: Accepted",
        "RequestStartTransaction evse 1 by another idToken: Rejected",
        "RequestStartTransaction evse 1 by the reserved idToken: Accepted"]
    statuses = [f for f in ocpp["traffic"] if f["dir"] == "in" and "\"StatusNotification\"" in f["frame"]]
    assert any('"Reserved"' in frame["frame"] for frame in statuses)
    triggers = [e["trigger"] for e in ocpp["transaction_events"]]
    assert triggers[0] == "CablePluggedIn" and "RemoteStart" in triggers
    assert report["connectors"][0]["car"]["reason"] == "target_soc" and report["connectors"][0]["energy_kwh"] > 0
    assert "MeterValueClock" in triggers  # clock-aligned (Interval 1 s) inside the transaction
    calls = [json.loads(f["frame"]) for f in report["ocpp"]["traffic"] if f["dir"] == "in"]
    idle = [c[3] for c in calls if c[0] == 2 and c[2] == "MeterValues"][0]
    ended = [c[3] for c in calls if c[0] == 2 and c[2] == "TransactionEvent" and c[3]["eventType"] == "Ended"][0]
    assert idle["evseId"] == 1 and idle["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
    # the register before the car and at its end differ by what the rig's meter counted in between
    counted_kwh = report["connectors"][0]["meter_register_delta_kwh"]
    assert counted_kwh > 0
    before_wh = _register_wh(idle["meterValue"], "Sample.Clock")
    assert abs((_register_wh(ended["meterValue"], "Transaction.End") - before_wh) / 1000.0 - counted_kwh) < 0.01
