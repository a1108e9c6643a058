"""A whole ISO-2 session in which the car asks ServiceDetailReq for every service in ServiceDiscoveryRes
(car profile iso2_service_detail) before it selects payment, then charges to its target SoC."""
from __future__ import annotations

import asyncio

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def test_iso2_car_asking_service_details_charges_to_target_soc():
    report, problems = asyncio.run(run_scenario("dc-session", load_setup("desk"), protocol="iso2",
                                                car_profile="iso2_service_detail"))
    assert not problems, (problems, report)
    assert report["result"] == "ok" and report["faults"] == []
    assert report["v2g"]["protocol"] == "iso2"
    conn = report["connectors"][0]
    assert conn["car"]["ok"] and conn["car"]["reason"] == "target_soc" and conn["car"]["soc"] >= 80.0
    assert conn["energy_kwh"] > 0.0 and conn["stop_reason"] == "ev_stop"
    times = report["v2g"]["answer_times"]
    assert times["ServiceDetailReq"]["count"] == 1  # we offer one service: the charge service
    for request in ("ServiceDiscoveryReq", "PaymentServiceSelectionReq", "CurrentDemandReq", "SessionStopReq"):
        assert times[request]["count"] >= 1, request
