"""Authorization scenarios through the whole rig (OCPP 2.0.1 block C): the rig's card reader on a pty, the
car over DIN 70121 and the rig's CSMS; the controller's own auto-authorization is off, so only a token
lets a car charge."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


def _run(name: str) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup("desk"), protocol="din"))
    assert not problems, (problems, report["ocpp"].get("auth"))
    return report


def _authorized(report: dict) -> list[dict]:
    """The TransactionEvents with trigger Authorized, as the CSMS received them."""
    found = []
    for entry in report["ocpp"]["traffic"]:
        frame = json.loads(entry["frame"]) if entry["dir"] == "in" else None
        if frame and frame[0] == 2 and frame[2] == "TransactionEvent" and frame[3]["triggerReason"] == "Authorized":
            found.append(frame[3])
    return found


def _shown(report: dict, token: str) -> float:
    note = next(n for n in report["ocpp"]["auth"]["notes"] if n.startswith(f"card {token} shown at "))
    return float(note.rsplit(" ", 1)[1])


def test_rfid_card_authorize_charge_unplug():
    report = _run("rfid")
    auth = report["ocpp"]["auth"]
    assert [list(c) for c in auth["cards"]] == [["04A1B201", "ISO14443"]]
    assert auth["authorize"] == [{"idToken": {"idToken": "04A1B201", "type": "ISO14443"}}]
    assert [e["idToken"]["idToken"] for e in _authorized(report)] == ["04A1B201"]
    assert report["connectors"][0]["car"]["reason"] == "target_soc" and report["connectors"][0]["energy_kwh"] > 0


def test_offline_the_local_list_decides_and_an_unknown_card_is_refused():
    # local-list-offline-unknown (the unknown card charges) is judged by its verdict in test_scenarios.py
    token = "04C0FF01"
    report = _run("local-list-offline")
    auth = report["ocpp"]["auth"]
    assert auth["notes"][0] == "SendLocalList: Accepted" and auth["outage"] is not None
    assert auth["authorize"] == []  # the CSMS was away: nothing could ask it
    authorized = _authorized(report)
    assert [e["idToken"]["idToken"] for e in authorized] == [token] and authorized[0]["offline"] is True
    # the car went ahead only once the card that counts was shown (the unknown one before it was refused)
    at = datetime.fromisoformat(authorized[0]["timestamp"].replace("Z", "+00:00")).timestamp()
    assert at >= _shown(report, token) - 0.01
    assert report["connectors"][0]["energy_kwh"] > 0


def test_autocharge_the_cars_evccid_is_its_token():
    report = _run("autocharge")
    assert report["ocpp"]["auth"]["authorize"] == [{"idToken": {"idToken": "04:65:65:00:64:C3", "type": "MacAddress"}}]
    assert [e["idToken"]["type"] for e in _authorized(report)] == ["MacAddress"]
    assert report["connectors"][0]["energy_kwh"] > 0
