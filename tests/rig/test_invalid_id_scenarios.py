"""E05 through the whole rig: a card nobody knows starts a transaction while the CSMS is away
(OfflineTxForUnknownIdEnabled); back, the CSMS answers its events with the card Invalid. The station stops
the transaction (StopTxOnInvalidId) or, with StopTxOnInvalidId false, stops the energy at
MaxEnergyOnInvalidId; every frame checked against the 2.0.1 schemas (hil/csms/role_invalid_id.py)."""
from __future__ import annotations

import asyncio

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


@pytest.mark.parametrize("name,trigger,stopped,stop_reason", [
    ("invalid-id-offline", "Deauthorized", "DeAuthorized", "deauthorized"),
    ("invalid-id-max-energy", "EnergyLimitReached", "EnergyLimitReached", "energy_limit")])
def test_a_card_refused_after_an_offline_start_stops_the_charge(name, trigger, stopped, stop_reason):
    report, problems = asyncio.run(run_scenario(name, load_setup("desk"), protocol="din"))
    assert not problems, (problems, report.get("ocpp", {}).get("notes"))
    ocpp = report["ocpp"]
    assert ocpp["auth"]["outage"] is not None and ocpp["violations"] == [] and ocpp["auth"]["problems"] == []
    events = ocpp["transaction_events"]
    assert len({e["tx"] for e in events}) == 1 and [e["seq"] for e in events] == list(range(len(events)))
    authorized = next(e for e in events if e["trigger"] == "Authorized")
    refused = next(e for e in events if e["trigger"] == trigger)
    assert authorized["offline"] and not refused["offline"]  # made offline; the stop once the CSMS answered
    assert any(e["offline"] and e["state"] == "Charging" for e in events)  # it charged while the CSMS was away
    ended = [call for call in ocpp["traffic"] if '"Ended"' in call["frame"] and call["dir"] == "in"]
    assert ended and f'"stoppedReason": "{stopped}"' in ended[-1]["frame"].replace('":"', '": "')
    conn = report["connectors"][0]
    assert conn["stop_reason"] == stop_reason and conn["car"]["reason"] == "evse_stop" and conn["energy_kwh"] > 0
