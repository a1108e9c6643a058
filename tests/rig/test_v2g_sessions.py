"""Whole sessions over V2G: the rig's car speaks DIN SPEC 70121 or ISO 15118-2 to the controller's SECC
(SLAC, SDP, V2GTP) in the loopback link mode, and in the veth mode when the rig may make namespaces."""
from __future__ import annotations

import asyncio

import pytest

from hil.link.netns import NetnsUnavailable, why_unavailable
from hil.runner import run_scenario
from hil.scenarios import SCENARIOS
from hil.setup import load_setup
from controller.formats.capture.dissect import dissect_file

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def _run(name: str, protocol: str, link_mode: str = "loopback", **kwargs) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup("desk"), protocol=protocol, link_mode=link_mode,
                                                **kwargs))
    assert not problems, (problems, report)
    return report


def _charged_to_target(report: dict) -> None:
    assert report["result"] == "ok" and report["faults"] == []
    conn = report["connectors"][0]
    assert conn["car"]["ok"] and conn["car"]["reason"] == "target_soc" and conn["car"]["soc"] >= 80.0
    assert conn["energy_kwh"] > 0.0 and conn["stop_reason"] == "ev_stop"
    times = report["v2g"]["answer_times"]
    for request in ("SessionSetupReq", "ChargeParameterDiscoveryReq", "CableCheckReq", "PreChargeReq",
                    "PowerDeliveryReq", "CurrentDemandReq", "WeldingDetectionReq", "SessionStopReq"):
        assert times[request]["count"] >= 1, request


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_dc_session_charges_to_target_soc_over_loopback(protocol, tmp_path):
    pcap = tmp_path / "session.pcap"
    report = _run("dc-session", protocol, pcap=str(pcap))
    _charged_to_target(report)
    assert report["v2g"] == {**report["v2g"], "protocol": protocol, "link": "loopback"}
    # the recording reads back as the session: SDP, then every request with its answer, in the chosen schema
    messages = dissect_file(pcap)
    slac = [m.type for m in messages if m.protocol == "SLAC"]
    assert {"CM_SET_KEY.REQ", "CM_SLAC_PARM.REQ", "CM_ATTEN_CHAR.IND", "CM_SLAC_MATCH.CNF"} <= set(slac)
    assert [m.type for m in messages if m.protocol != "SLAC"][:2] == ["SdpRequest", "SdpResponse"]
    v2g = [m for m in messages if m.protocol == "V2G"]
    assert not [m for m in v2g if m.error]
    assert {m.schema for m in v2g[2:]} == {protocol}
    requests = [m.type for m in v2g if m.from_ev]
    assert requests.count("CurrentDemandReq") == report["v2g"]["answer_times"]["CurrentDemandReq"]["count"]
    assert len(requests) == len(v2g) - len(requests) and requests[-1] == "SessionStopReq"


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_dc_session_charges_to_target_soc_over_veth(protocol):
    reason = why_unavailable()
    if reason:
        pytest.skip(f"veth link mode skipped: {reason}")
    try:
        report = _run("dc-session", protocol, "veth")
    except NetnsUnavailable as exc:
        pytest.skip(f"veth link mode skipped: {exc}")
    _charged_to_target(report)


def test_every_connector_of_the_nevi_setup_charges_over_v2g(tmp_path):
    """Four cars at once at 150 kW each, each over its own SLAC link, SDP and V2GTP connection; one pcap."""
    pcap = tmp_path / "nevi.pcap"
    report, problems = asyncio.run(run_scenario("dc-session", load_setup("nevi"), protocol="din", pcap=str(pcap)))
    assert not problems, (problems, report)
    assert len(report["connectors"]) == 4 and report["result"] == "ok"
    for conn in report["connectors"]:
        assert conn["car"]["ok"] and conn["car"]["reason"] == "target_soc", conn
        assert conn["energy_kwh"] > 0.0 and conn["stop_reason"] == "ev_stop"
        assert conn["peak_kw"] >= 140.0  # NEVI: 150 kW per port with all four charging at once
        assert not conn["final"]["contactors_closed"] and not conn["final"]["modules_on"]
    demand = report["v2g"]["answer_times"]["CurrentDemandReq"]
    assert demand["count"] == report["v2g"]["car_round_trips"]["CurrentDemandReq"]["count"]
    messages = dissect_file(pcap)
    streams = {m.tcp_stream for m in messages if m.protocol == "V2G"}
    assert len(streams) == 4  # one V2GTP connection per connector, told apart in the file
    assert sum(1 for m in messages if m.type == "CM_SLAC_MATCH.CNF") == 4


def test_tesla_profile_charges_over_din():
    """Tesla's namespace first, a one-byte SessionID in SessionSetupReq, SDP asking for TLS."""
    report = _run("dc-session", "din", car_profile="tesla")
    _charged_to_target(report)


def test_estop_while_charging_tells_the_car_emergency_shutdown():
    report = _run("estop", "din")
    car = report["connectors"][0]["car"]
    assert not car["ok"] and "EVSE_EmergencyShutdown" in car["reason"]
    assert {f["code"] for f in report["faults"]} >= {"ESTOP_PRESSED"}


def test_user_stop_reaches_the_car_as_stop_charging():
    report = _run("user-stop", "iso2")
    conn = report["connectors"][0]
    assert conn["car"]["reason"] == "evse_stop" and conn["stop_reason"] == "user_stop"
    assert report["faults"] == []


def test_unplug_while_charging_ends_session_and_opens_contactors():
    report = _run("unplug-charging", "din")
    assert "UNPLUGGED_UNDER_LOAD" in {f["code"] for f in report["faults"]}
    assert report["connectors"][0]["final"]["contactors_closed"] is False


def test_isolation_fault_in_cable_check_refuses_the_car():
    report = _run("isolation-fault", "din")
    car = report["connectors"][0]["car"]
    assert not car["ok"] and car["reason"].startswith("cable_check")
    assert report["connectors"][0]["energy_kwh"] == 0.0


COVERED_ABOVE = {"dc-session", "estop", "user-stop", "unplug-charging", "isolation-fault"}
# the OCPP scenarios (a CSMS role) each have their own rig test over DIN on the desk, the same run as here, and
# test_scenarios.py judges them once more: a third identical session each would add minutes, no coverage
WITH_A_CSMS_ROLE = {n for n, s in SCENARIOS.items() if s.csms}


# (ISO-2 over TLS only: tests/rig/test_v2g_tls_scenarios.py; the sharing scenarios: their own setup)
@pytest.mark.parametrize("name", [n for n in SCENARIOS if n not in COVERED_ABOVE | WITH_A_CSMS_ROLE
                                  and not SCENARIOS[n].v2g_tls and SCENARIOS[n].setup is None])
def test_every_other_scenario_ends_as_it_should_over_din(name):
    """The rest of the scenarios with the car on DIN: result, fault codes and a safe end (checked by _run)."""
    report = _run(name, "din")
    assert report["v2g"]["car_round_trips"].get("CurrentDemandReq", {}).get("count", 0) > 0 or \
        SCENARIOS[name].inject_before_plug, report["v2g"]  # it charged over V2G, unless refused before
    car = report["connectors"][0]["car"]
    if SCENARIOS[name].expect_result == "ok":
        assert car["ok"], car
    elif name != "heartbeat-lost":  # a dead controller tells nothing; its I/O board opened the contactors
        # the car learnt from the SECC that the session ended: a stop or shutdown request, or a refusal
        assert car["reason"] != "target_soc" and (not car["ok"] or car["reason"] == "evse_stop"), car
