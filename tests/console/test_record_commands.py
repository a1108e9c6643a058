"""faults, log, sessions and uptime: from the store when there is one, else from the controller's memory."""
from __future__ import annotations

import asyncio
import re

import pytest

from tests.console.harness import TECH_PIN, ask, ask_json, cabinet, connect, until

pytestmark = pytest.mark.timeout(60)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


def test_faults_log_and_uptime_come_from_the_store(tmp_path):
    async def scenario():
        async with cabinet(tmp_path, store=True) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                cab.rig.io_sims[1].press_estop()
                await until(lambda: cab.connector.state == "emergency", "the e-stop acted on")
                await asyncio.to_thread(cab.app.store.flush)
                return (await ask_json(client, "json faults"), await ask(client, "faults"),
                        await ask_json(client, "log 50 --json"), await ask(client, "log"),
                        await ask_json(client, "json uptime"), await ask(client, "uptime 1"),
                        await ask_json(client, "json sessions"))
            finally:
                client.close()
                cab.rig.io_sims[1].release_estop()

    faults, faults_text, log, log_text, uptime, uptime_text, sessions = asyncio.run(scenario())
    active = faults["data"]["active"]
    assert [f["code"] for f in active] == ["ESTOP_PRESSED"]
    assert active[0]["severity"] == "emergency" and active[0]["clears"] == "latched" and active[0]["raised_t"] > 0
    assert faults["data"]["from_store"] is True
    history = faults["data"]["history"]
    assert history[0]["code"] == "ESTOP_PRESSED" and history[0]["active"] is True and history[0]["connector"] == 1
    assert "ESTOP_PRESSED  emergency  clears latched  since" in faults_text
    assert "The emergency stop button was pressed" in faults_text
    assert TIMESTAMP.search(faults_text)
    # the ChargeX MREC the CSMS is told: on the active fault's line, as a history column and in the JSON
    assert "    [MREC CX008 EmergencyStop] The emergency stop button" in faults_text
    assert active[0]["mrec"] == history[0]["mrec"] == "MREC CX008 EmergencyStop"
    assert "mrec" in faults_text.split("last ")[1].splitlines()[1]

    kinds = [(e["kind"], e["message"]) for e in log["data"]["events"]]
    assert ("phase", "emergency") in kinds and ("phase", "available") in kinds
    assert ("console", "login: ok as technician") in kinds
    assert log["data"]["from_store"] is True
    assert TIMESTAMP.search(log_text) and "login: ok as technician" in log_text

    port = uptime["data"]["ports"][0]
    assert port["connector"] == 1 and 0.0 <= port["percent"] <= 100.0 and port["outage_min"] > 0
    assert uptime["data"]["controller_running_s"] > 0
    assert "controller running for 00:00:" in uptime_text and " %" in uptime_text
    assert sessions["data"] == {"sessions": [], "from_store": True}


def test_without_a_store_the_records_come_from_memory(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                cab.rig.io_sims[1].press_estop()
                await until(lambda: cab.connector.state == "emergency", "the e-stop acted on")
                return (await ask_json(client, "json faults"), await ask_json(client, "json log"),
                        await ask(client, "uptime"), await ask(client, "faults"))
            finally:
                client.close()
                cab.rig.io_sims[1].release_estop()

    faults, log, uptime, faults_text = asyncio.run(scenario())
    assert faults["data"]["from_store"] is False
    assert faults["data"]["history"][0]["code"] == "ESTOP_PRESSED" and faults["data"]["history"][0]["active"]
    assert "(since start; no store)" in faults_text
    # the console's own memory of events since it started
    events = log["data"]["events"]
    assert log["data"]["from_store"] is False
    assert any(e["kind"] == "fault" and "ESTOP_PRESSED" in e["message"] for e in events)
    assert any(e["kind"] == "phase" and e["message"].startswith("state=emergency") for e in events)
    assert "no store configured" in uptime
