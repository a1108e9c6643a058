"""Technician commands over a pty: login and lockout, maintenance, clear, selftest, cantrace; recording."""
from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.console.harness import TECH_PIN, ask, ask_json, cabinet, connect, until

pytestmark = pytest.mark.timeout(60)


async def console_events(cab) -> list[dict]:
    await asyncio.to_thread(cab.app.store.flush)
    return [e for e in reversed(cab.app.store.recent_events(200)) if e["kind"] == "console"]


def test_lockout_after_wrong_pins_and_every_attempt_recorded(tmp_path):
    async def scenario():
        async with cabinet(tmp_path, store=True, max_failed_logins=3, lockout_s=60.0) as cab:
            client = await connect(cab.path)
            try:
                answers = [await ask(client, line) for line in ("login 1", "login 22", "json login 333")]
                answers.append(await ask(client, f"login {TECH_PIN}"))
                answers.append(await ask(client, "disable"))
                return answers, await console_events(cab), cab.connector.enabled
            finally:
                client.close()

    answers, events, enabled = asyncio.run(scenario())
    assert answers[0] == "error: wrong PIN (1 of 3 before lockout)"
    assert answers[1] == "error: wrong PIN (2 of 3 before lockout)"
    locked = json.loads(answers[2])
    assert locked["ok"] is False and locked["error"] == "wrong PIN; 3 in a row, login locked; try again in 60 s"
    assert answers[3].startswith("error: too many wrong PINs; login locked; try again in ")
    assert answers[4] == "error: disable needs the technician role; log in with: login PIN"
    assert enabled is True
    messages = [e["message"] for e in events]
    assert messages[:4] == ["login: refused, wrong PIN (1 of 3 before lockout)",
                            "login: refused, wrong PIN (2 of 3 before lockout)",
                            "login: refused, wrong PIN; 3 in a row, login locked",
                            "login: refused, too many wrong PINs; login locked"]
    assert messages[4].startswith("disable: refused: disable needs the technician role")
    # no PIN in what is recorded (timestamps and ids left out: their digits may contain anything)
    recorded = [json.dumps({k: v for k, v in e.items() if k not in ("t", "id")}) for e in events]
    assert all(TECH_PIN not in text and "333" not in text for text in recorded)


def test_maintenance_commands_act_through_the_connector_and_are_recorded(tmp_path):
    lines = ["stop", "authorize", "start", "disable", "status", "start 1", "enable 1", "clear", "logout", "clear"]

    async def scenario():
        async with cabinet(tmp_path, store=True) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                answers = {}
                for line in lines[:-2]:
                    answers[line] = await ask(client, line)
                answers["json disable"] = await ask_json(client, "json disable")
                answers["json enable"] = await ask_json(client, "json enable")
                cab.rig.io_sims[1].press_estop()
                await until(lambda: cab.connector.state == "emergency", "the e-stop acted on")
                answers["start e-stop"] = await ask(client, "start")
                answers["clear pressed"] = await ask_json(client, "json clear 1")  # still pressed: stays
                cab.rig.io_sims[1].release_estop()
                await until(lambda: not cab.connector.io.status.estop, "the e-stop released")
                answers["clear e-stop"] = await ask_json(client, "json clear 1")
                answers["logout"] = await ask(client, "logout")
                answers["clear as viewer"] = await ask(client, "clear")
                return answers, await console_events(cab)
            finally:
                client.close()
                cab.rig.io_sims[1].release_estop()

    answers, events = asyncio.run(scenario())
    assert answers["stop"] == "error: connector 1 is available: no session to stop"
    assert answers["authorize"] == "error: connector 1 is available: no car waits for authorization"
    assert answers["start"] == "error: connector 1: no car plugged in"
    assert answers["disable"] == "connector 1: disabled, unavailable"
    assert "unavailable (disabled)" in answers["status"]
    assert answers["start 1"] == "error: connector 1 is disabled; enable it first: enable 1"
    assert answers["enable 1"] == "connector 1: enabled, available"
    assert answers["clear"] == "connector 1: no latched faults; available"
    assert answers["json disable"]["data"]["state"] == "unavailable"
    assert answers["json enable"]["data"] == {"connector": 1, "state": "available", "enabled": True,
                                              "authorized": False, "faults": []}
    assert answers["start e-stop"] == \
        "error: connector 1 is emergency (faults: ESTOP_PRESSED); fix or clear them first"
    assert answers["clear pressed"]["data"]["connectors"][0]["cleared"] == []
    assert answers["clear e-stop"]["data"]["connectors"][0]["cleared"] == ["ESTOP_PRESSED"]
    assert answers["logout"] == "logged out; role viewer"
    assert answers["clear as viewer"] == "error: clear needs the technician role; log in with: login PIN"
    recorded = [(e["message"], e["connector"]) for e in events]
    assert ("stop: error: connector 1 is available: no session to stop", None) in recorded
    assert ("disable: ok", 1) in recorded and ("enable 1: ok", 1) in recorded
    assert ("clear 1: ok", 1) in recorded and ("logout: technician", None) in recorded
    assert recorded[-1][0].startswith("clear: refused: clear needs the technician role")
    assert all(e["data"]["role"] in ("technician", "viewer") for e in events if "command" in (e["data"] or {}))


def test_selftest_passes_with_no_car_and_puts_the_connector_back(tmp_path):
    async def scenario():
        async with cabinet(tmp_path, store=True) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                text = await ask(client, "selftest")
                reply = await ask_json(client, "json selftest 1")
                return text, reply, cab.connector.state, await console_events(cab)
            finally:
                client.close()

    text, reply, state, events = asyncio.run(scenario())
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["io_board", "close", "open", "module", "module", "meter",
                                                        "imd"]
    assert all(" ok " in line for line in lines[:-1])
    assert lines[-1] == "selftest of connector 1 passed"
    data = reply["data"]
    assert reply["ok"] is True and data["passed"] is True and data["state"] == "available"
    assert [s["step"] for s in data["steps"]] == ["io_board", "close", "open", "module 0x01", "module 0x02",
                                                  "meter", "imd"]
    assert state == "available"
    assert [e["message"] for e in events][-2:] == ["selftest: ok", "selftest 1: ok"]


def test_selftest_is_refused_with_a_car_plugged_and_reports_a_failing_part(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                cab.rig.plants[1].ev_cp_state = "B"
                await until(lambda: cab.connector.cp_state == "B", "the car seen")
                refused = await ask(client, "selftest")
                cab.rig.plants[1].ev_cp_state = "A"
                await until(lambda: cab.connector.state == "available", "the car gone")
                cab.rig.imd_sims[1].self_test_fails = True
                failed = await ask_json(client, "json selftest")
                text = await ask(client, "selftest")
                return refused, failed, text
            finally:
                client.close()

    refused, failed, text = asyncio.run(scenario())
    assert refused == "error: connector 1 is plugged with CP B: the selftest needs no car connected"
    assert failed["ok"] is False and failed["error"].startswith("selftest of connector 1 failed: imd: ")
    steps = {s["step"]: s["ok"] for s in failed["data"]["steps"]}
    assert steps.pop("imd") is False and all(steps.values())
    assert text.splitlines()[-1].startswith("error: selftest of connector 1 failed")


def test_cantrace_shows_decoded_frames_and_ctrl_c_ends_it(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                text = await ask(client, "cantrace 0.5")
                reply = await ask_json(client, "json cantrace 0.5 iostatus")
                vendor = await ask(client, "cantrace 0.3 OutputAnswer")
                raw = await ask_json(client, "json cantrace 0.3 283")
                client.port.write(b"cantrace 30\r")
                await asyncio.sleep(0.3)
                interrupted = await asyncio.to_thread(client.interrupt)
                after = await ask(client, "version")
                return text, reply, vendor, raw, interrupted, after, cab.app.ports
            finally:
                client.close()

    text, reply, vendor, raw, interrupted, after, ports = asyncio.run(scenario())
    lines = text.splitlines()
    frame_line = re.compile(r" *\d+\.\d{3} \w+ +[0-9A-F]{3,8} \[([0-9a-f]{2} ){7}[0-9a-f]{2}\]"
                            r" (Io|Infy)\w+( c1)?( \w+=\S+)*$")
    assert all(frame_line.match(line) for line in lines[:-1]), lines
    assert 5 < len(lines) <= 1 + 0.5 * 30 + 3  # bounded by the line rate
    assert " frames in 0.5 s: " in lines[-1] and "not shown (rate limit)" in lines[-1]
    # module frames carry their address in the ID: matched to the vendor DBC by the leading ID bits
    assert "InfyReadOutputAnswer OutputVoltage=0.0 OutputCurrent=0.0" in vendor
    data = reply["data"]
    assert data["filter"] == "iostatus" and data["shown"] == len(data["frames"]) > 0
    assert all(f["name"] == "IoStatus c1" and f["signals"]["CpState"] == "A" for f in data["frames"])
    assert all("283" in f["id"] for f in raw["data"]["frames"]) and raw["data"]["frames"]
    assert interrupted.endswith("^C interrupted")
    assert after.startswith("dc-charger-controller")
    assert all(not port._taps for port in ports.values())  # the trace let go of the buses
