"""Diagnostics over OCPP through the whole rig (hil/csms/role_diagnostics.py): GetLog's archive arrives at the
rig's upload server and unpacks with the session in its event log; a voltage monitor fires a NotifyEvent."""
from __future__ import annotations

import asyncio

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


def _run(name: str) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup("desk"), protocol="din"))
    assert not problems, (problems, report["ocpp"]["notes"])
    return report


def test_get_log_upload_arrives_and_unpacks_with_the_event_log():
    ocpp = _run("get-log")["ocpp"]
    assert ocpp["violations"] == []
    archive = ocpp["diagnostics"]["archive"]
    assert {"manifest.json", "events.jsonl", "faults.jsonl", "controller.log"} <= set(archive["members"])
    assert archive["events"] > 0
    assert [u["method"] for u in ocpp["diagnostics"]["uploads"]] == ["PUT"]
    assert "LogStatusNotification: Uploading, Uploaded" in ocpp["notes"]


def test_a_voltage_threshold_set_mid_session_fires_a_notify_event():
    ocpp = _run("monitoring")["ocpp"]
    assert ocpp["violations"] == []
    assert ocpp["notes"][0].startswith("SetVariableMonitoring UpperThreshold 100 V on EVSE 1: Accepted")
    assert ocpp["notes"][1].startswith("NotifyEvent Alerting for monitor 1: DCVoltage ")
