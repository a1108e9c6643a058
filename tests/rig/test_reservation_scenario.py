"""The `reservation` scenario through the whole rig: the rig's CSMS reserves the connector, another idToken is
refused there, the reserved idToken's transaction carries the reservationId, and the car charges."""
from __future__ import annotations

import asyncio

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def test_reservation_scenario():
    report, problems = asyncio.run(run_scenario("reservation", load_setup("desk"), protocol="din"))
    assert not problems, (problems, report)
    ocpp = report["ocpp"]
    assert ocpp["violations"] == [] and ocpp["problems"] == []
    assert ocpp["notes"] == [
        "ReserveNow 91 (expires in 1 s): Accepted", "ReservationStatusUpdate 91: Expired",
        "ReserveNow 92: Accepted", "CancelReservation 92: Accepted", "ReserveNow 1 evse 1: Accepted",
        "RequestStartTransaction evse 1 by another idToken: Rejected",
        "RequestStartTransaction evse 1 by the reserved idToken: Accepted"]
    statuses = [frame for frame in ocpp["traffic"] if '"StatusNotification"' in frame["frame"] and frame["dir"] == "in"]
    assert any('"Reserved"' in frame["frame"] for frame in statuses)
    triggers = [e["trigger"] for e in ocpp["transaction_events"]]
    assert triggers[0] == "CablePluggedIn" and "RemoteStart" in triggers
    assert report["connectors"][0]["car"]["reason"] == "target_soc" and report["connectors"][0]["energy_kwh"] > 0
