"""Whole charging sessions through the wires: every scenario on the desk setup (the NEVI cabinet, four ports
at once over V2G, is in test_v2g_sessions.py).

The checks are what a user sees: the report's result and fault codes, and the end state observed on
the bus (contactors open, modules off, no current).
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hil.runner import run_scenario
from hil.scenarios import SCENARIOS
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


def _run(name: str, setup: str = "desk", **kwargs) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup(setup), **kwargs))
    assert not problems, (problems, report)
    return report


def _safe(report: dict) -> None:
    for conn in report["connectors"]:
        final = conn["final"]
        assert final["contactors_closed"] is False
        assert final["modules_on"] is False
        assert final["output_current_a"] < 1.0


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_dc_session_charges_to_target_soc(protocol):
    report = _run("dc-session", protocol=protocol)
    assert report["result"] == "ok" and report["faults"] == []
    conn = report["connectors"][0]
    assert conn["car"]["soc"] >= 80.0 and conn["car"]["reason"] == "target_soc"
    assert conn["stop_reason"] == "ev_stop"
    # energy comes from the meter: equal to its own register delta, and close to what the plant delivered
    assert report["energy_source"] == "meter"
    assert conn["energy_kwh"] == pytest.approx(conn["meter_register_delta_kwh"], abs=1e-6)
    assert conn["energy_kwh"] == pytest.approx(conn["rig_energy_kwh"], abs=0.011)  # 10 Wh register steps
    assert report["peak_kw"] > 30.0
    names = [p["name"] for p in report["phases"]]
    for phase in ("available", "plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check",
                  "precharge", "charging", "stopping", "welding_detection", "session_end"):
        assert phase in names
    assert names[-1] == "available"
    _safe(report)


# Scenarios whose own rig test module runs them with checks of their own (CI time: each runs once, not twice).
OWN_TEST_MODULE = {
    **dict.fromkeys(("remote-start", "remote-start-wss", "remote-start-mtls", "offline-session", "csms-restart"),
                    "test_ocpp_scenarios"),
    "reservation": "test_reservation_scenario",
    **dict.fromkeys(("reset-onidle", "change-availability"), "test_availability_scenarios"),
    **dict.fromkeys(("rfid", "local-list-offline", "autocharge"), "test_auth_scenarios"),
    **dict.fromkeys(("price", "price-default-change"), "test_price_scenarios"),
    **dict.fromkeys(("get-log", "monitoring"), "test_diagnostics_scenarios"),
    **dict.fromkeys(("firmware-update", "firmware-bad-signature", "firmware-download-retry",
                     "firmware-during-transaction"), "test_firmware_scenarios"),
    **dict.fromkeys(("invalid-id-offline", "invalid-id-max-energy"), "test_invalid_id_scenarios"),
    **dict.fromkeys(("site-limit", "tx-profile"), "test_smart_charging_scenarios"),
    **dict.fromkeys(("tls-session", "pnc-untrusted-secc"), "test_v2g_tls_scenarios"),
    **dict.fromkeys(("pnc", "pnc-install", "pnc-expired", "pnc-wrong-chain", "pnc-bad-signature",
                     "pnc-revoked", "pnc-central"), "test_pnc_scenarios"),
    "pnc-update": "test_pnc_update_scenario",
    **dict.fromkeys(("secc-certificate", "secc-certificate-first"), "test_secc_certificate_scenario"),
}


@pytest.mark.parametrize("name", sorted(OWN_TEST_MODULE))
def test_a_scenario_left_out_here_is_run_by_its_own_module(name):
    assert name in SCENARIOS
    source = (Path(__file__).parent / f"{OWN_TEST_MODULE[name]}.py").read_text()
    assert f'"{name}"' in source and "run_scenario" in source


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "dc-session" and SCENARIOS[n].setup is None
                                  and n not in OWN_TEST_MODULE])
def test_scenario_ends_as_it_should(name):
    scenario = SCENARIOS[name]
    report = _run(name)
    assert report["result"] == scenario.expect_result
    codes = [f["code"] for f in report["faults"]]
    for code in scenario.expect_faults:
        assert code in codes
    _safe(report)
    conn = report["connectors"][0]
    if name == "user-stop":
        assert conn["stop_reason"] == "user_stop" and conn["car"]["reason"] == "evse_stop"
    if name == "ev-stop":
        assert conn["stop_reason"] == "ev_stop" and conn["car"]["reason"] == "ev_stop"
        assert conn["car"]["soc"] < 80.0
    if name == "module-lost":
        assert conn["car"]["reason"] == "target_soc"  # re-shared, the session went on
    if name == "estop":
        assert conn["final"]["state"] == "emergency"  # latched until a technician clears it
    if name == "unplug-charging":
        assert conn["final"]["state"] == "available"
    if name in ("isolation-fault", "imd-selftest-fail"):
        assert conn["peak_kw"] < 2.0 and "charging" not in [p["name"] for p in report["phases"]]
    if name == "meter-lost":
        assert conn["stop_reason"] == "error:METER_LOST"
    if name == "heartbeat-lost":
        assert conn["final"]["state"] == "controller_stopped"

