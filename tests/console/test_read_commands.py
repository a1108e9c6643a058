"""The reading commands over a pty, in text and JSON, against the desk cabinet and the rig; roles."""
from __future__ import annotations

import asyncio
import json

import pytest

from tests.console.harness import TECH_PIN, VIEWER_PIN, ask, ask_json, cabinet, connect

pytestmark = pytest.mark.timeout(60)

READ_COMMANDS = ["help", "version", "config", "status", "modules", "meter", "imd", "faults", "log", "sessions",
                 "uptime", "ocpp", "certs"]
TECH_COMMANDS = ["authorize", "start", "stop", "enable", "disable", "clear", "selftest", "cantrace 1", "diag /tmp"]


def run_with_console(tmp_path, lines: list[str], **options) -> dict[str, str]:
    """Each line's answer, asked in order over one connection."""
    async def scenario():
        async with cabinet(tmp_path, **options) as cab:
            client = await connect(cab.path)
            try:
                return {line: await ask(client, line) for line in lines}
            finally:
                client.close()
    return asyncio.run(scenario())


def test_every_reading_command_answers_in_text_and_in_json(tmp_path):
    lines = READ_COMMANDS + [f"json {c}" for c in READ_COMMANDS] + [f"{c} --json" for c in READ_COMMANDS]
    answers = run_with_console(tmp_path, lines)
    for command in READ_COMMANDS:
        assert answers[command] and not answers[command].startswith("error"), (command, answers[command])
        for line in (f"json {command}", f"{command} --json"):
            reply = json.loads(answers[line])
            assert reply["ok"] is True and reply["command"] == command, (line, reply)


def test_status_modules_meter_and_imd_show_the_live_cabinet(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                return (await ask_json(client, "json status 1"), await ask(client, "status"),
                        await ask_json(client, "modules --json"), await ask(client, "modules 1"),
                        await ask_json(client, "json meter"), await ask_json(client, "json imd"),
                        await ask(client, "meter"))
            finally:
                client.close()

    status, status_text, modules, modules_text, meter, imd, meter_text = asyncio.run(scenario())
    conn = status["data"]["connectors"][0]
    assert conn["connector"] == 1 and conn["state"] == "available" and conn["cp"] == "A"
    assert conn["io_board_online"] is True and conn["session"] is None and conn["enabled"] is True
    assert "connector 1 CCS1: available  CP A  I/O board online" in status_text
    group = modules["data"]["groups"][0]
    assert group["capabilities"]["healthy_count"] == 2
    assert [m["address"] for m in group["modules"]] == [1, 2] and all(m["state"] == "ok" for m in group["modules"])
    assert "2 of 2 modules healthy" in modules_text and "0x02" in modules_text
    reading = meter["data"]["meter"][0]
    assert reading["configured"] and reading["fresh"] and reading["reading"]["energy_import_wh"] > 0
    assert imd["data"]["imd"][0]["reading"]["resistance_ohm"] > 1e6
    assert meter_text.startswith("connector 1 meter: fresh")


def test_meter_and_imd_not_configured(tmp_path):
    answers = run_with_console(tmp_path, ["meter", "json imd"], modbus=False)
    assert answers["meter"] == "connector 1 meter: not configured"
    assert '"configured":false' in answers["json imd"]


def test_config_masks_the_pins(tmp_path):
    answers = run_with_console(tmp_path, ["config", "json config"])
    lines = [line.rstrip() for line in answers["config"].splitlines()]
    assert "console.technician_pin = ****" in lines and "console.viewer_pin =" in lines  # set, and not set
    assert TECH_PIN not in answers["config"] and TECH_PIN not in answers["json config"]
    assert json.loads(answers["json config"])["data"]["console"]["technician_pin"] == "****"
    assert "power.vendor = infypower" in answers["config"]


def test_help_lists_every_command_and_explains_one(tmp_path):
    answers = run_with_console(tmp_path, ["json help", "help stop", "help nothing"])
    names = [c["name"] for c in json.loads(answers["json help"])["data"]["commands"]]
    assert sorted(names) == sorted(READ_COMMANDS + ["login", "logout"] + [c.split()[0] for c in TECH_COMMANDS])
    assert answers["help stop"].startswith("usage: stop [CONNECTOR]")
    assert "needs: technician role" in answers["help stop"]
    assert answers["help nothing"].startswith("error: no command 'nothing'")


def test_a_viewer_may_read_but_not_act(tmp_path):
    lines = TECH_COMMANDS + [f"json {c}" for c in TECH_COMMANDS]
    answers = run_with_console(tmp_path, lines)
    for command in TECH_COMMANDS:
        name = command.split()[0]
        assert answers[command] == f"error: {name} needs the technician role; log in with: login PIN"
        assert f'"ok":false,"command":"{name}"' in answers[f"json {command}"]


def test_with_a_viewer_pin_nothing_is_shown_before_login(tmp_path):
    lines = ["status", "version", "login 0000", f"login {VIEWER_PIN}", "status", "stop", "logout", "status"]
    answers = []

    async def scenario():
        async with cabinet(tmp_path, viewer_pin=VIEWER_PIN) as cab:
            client = await connect(cab.path)
            try:
                for line in lines:
                    answers.append((client.prompt, await ask(client, line)))
            finally:
                client.close()

    asyncio.run(scenario())
    assert answers[0] == ("desk> ", "error: log in first: login PIN")
    assert answers[1][1].startswith("dc-charger-controller")  # version needs no login
    assert answers[2][1].startswith("error: wrong PIN (1 of 5")
    assert answers[3][1] == "logged in as viewer"
    assert answers[4][0] == "desk:viewer> " and answers[4][1].startswith("connector 1 CCS1")
    assert answers[5][1] == "error: stop needs the technician role; log in with: login PIN"
    assert answers[6][1] == "logged out; role none"
    assert answers[7] == ("desk> ", "error: log in first: login PIN")


def test_unknown_commands_and_bad_arguments_get_a_reason(tmp_path):
    lines = ["frobnicate", "json frobnicate", "status 9", "status x", "status 1 2", "log 0", "log abc",
             "sessions 1000", "json", f"login {TECH_PIN}", "cantrace", "cantrace 100", "cantrace x", "stop 7"]
    answers = run_with_console(tmp_path, lines)
    assert answers["frobnicate"] == "error: unknown command 'frobnicate'; type help"
    assert answers["json frobnicate"] == \
        '{"ok":false,"command":"frobnicate","error":"unknown command \'frobnicate\'; type help"}'
    assert answers["status 9"] == "error: no connector '9' (connectors: 1)"
    assert answers["status x"] == "error: no connector 'x' (connectors: 1)"
    assert answers["status 1 2"] == "error: unexpected argument '2'"
    assert answers["log 0"].startswith("error: the number of rows must be a whole number from 1 to 100")
    assert answers["log abc"].startswith("error: the number of rows")
    assert answers["sessions 1000"].startswith("error: the number of rows must be a whole number from 1 to 50")
    assert answers["json"] == '{"ok":false,"command":"json","error":"json needs a command, e.g. json status"}'
    assert answers["cantrace"] == "error: usage: cantrace SECONDS [FILTER]"
    assert answers["cantrace 100"].startswith("error: SECONDS must be a number above 0 and at most 60")
    assert answers["cantrace x"].startswith("error: SECONDS must be")
    assert answers["stop 7"] == "error: no connector '7' (connectors: 1)"
