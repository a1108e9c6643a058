"""What a technician's trial of the console met: disable during a fault, selftest's reason while a fault is
active, `log` as readable lines, a paste over the input budget, and the PIN kept out of the process list."""
from __future__ import annotations

import asyncio
import logging
import os
import re
import stat

import pytest

from controller.formats.events import V2gClosed
from tests.console.harness import TECH_PIN, ask, bare_console, cabinet, connect, until
from tools.charger_console import main

pytestmark = pytest.mark.timeout(60)


def test_disable_during_an_emergency_tells_the_truth_and_keeps_the_port_out_after_the_fault(tmp_path, caplog):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                cab.rig.io_sims[1].press_estop()
                await until(lambda: cab.connector.state == "emergency", "the e-stop acted on")
                disabled = await ask(client, "disable 1")
                cab.rig.io_sims[1].release_estop()
                await until(lambda: "ESTOP_PRESSED" not in cab.connector._conditions, "the release seen")
                cleared = await ask(client, "clear 1")
                await until(lambda: cab.connector.state != "emergency", "the connector out of emergency")
                await asyncio.sleep(0.3)
                after_clear = cab.connector.state
                enabled = await ask(client, "enable 1")
                await until(lambda: cab.connector.state == "available", "back in service")
                return disabled, cleared, after_clear, enabled
            finally:
                client.close()

    with caplog.at_level(logging.WARNING):
        disabled, cleared, after_clear, enabled = asyncio.run(scenario())
    assert disabled == ("connector 1: disabled, emergency (faults: ESTOP_PRESSED); it stays out of service once "
                        "the fault is cleared, until: enable 1")
    assert "cleared ESTOP_PRESSED" in cleared
    assert after_clear == "unavailable"  # a disabled port does not come back by itself after the fault
    assert enabled.startswith("connector 1: enabled")
    assert "Can't trigger event" not in caplog.text


def test_disable_during_a_session_is_taken_without_a_state_machine_warning(tmp_path, caplog):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                cab.rig.plants[1].ev_cp_state = "B"  # a car plugged in that has begun its session
                await until(lambda: cab.connector.state == "plugged", "the car seen")
                cab.connector.ev_session_setup()
                state = cab.connector.state
                answer = await ask(client, "disable")
                return state, answer, cab.connector.enabled
            finally:
                client.close()

    with caplog.at_level(logging.WARNING):
        state, answer, enabled = asyncio.run(scenario())
    assert state == "negotiating" and enabled is False
    assert answer == ("connector 1: disabled, negotiating; the running session goes on and the connector stays out "
                      "of service after it")
    assert "Can't trigger event" not in caplog.text


def test_selftest_while_a_fault_is_active_names_the_fault(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                cab.rig.io_sims[1].press_estop()
                await until(lambda: cab.connector.state == "emergency", "the e-stop acted on")
                return await ask(client, "selftest 1")
            finally:
                client.close()
                cab.rig.io_sims[1].release_estop()

    answer = asyncio.run(scenario())
    assert answer == ("error: connector 1 is in emergency (faults: ESTOP_PRESSED): remove the cause and clear the "
                      "faults first (clear 1); the selftest runs on an idle connector")
    assert "car" not in answer


@pytest.mark.parametrize("store", [False, True])
def test_log_prints_readable_lines_not_python_dicts(tmp_path, store):
    async def scenario():
        async with cabinet(tmp_path, store=store) as cab:
            client = await connect(cab.path)
            try:
                cab.rig.io_sims[1].press_estop()
                await until(lambda: cab.connector.state == "emergency", "the e-stop acted on")
                # an event with nested data, as the controller's v2g_closed carries
                cab.app.emit(V2gClosed(1, "unplugged", {"CurrentDemandReq": {"count": 9, "p50_ms": 1.2}}))
                if store:
                    await asyncio.to_thread(cab.app.store.flush)
                return await ask(client, "log 50")
            finally:
                client.close()
                cab.rig.io_sims[1].release_estop()

    text = asyncio.run(scenario())
    assert "{" not in text and "'" not in text and "..." not in text, text
    assert re.search(r"phase\s+now emergency", text), text
    assert re.search(r"v2g_closed\s+reason=unplugged answer_times=\(1 entry\)", text), text
    if not store:  # with a store, faults are kept in their own table (the `faults` command)
        assert re.search(r"fault\s+ESTOP_PRESSED raised \(emergency, MREC CX008\): emergency stop pressed", text), text


def test_a_paste_over_the_input_budget_is_refused_with_a_reason_and_the_next_command_runs(tmp_path):
    link = str(tmp_path / "console")

    async def scenario():
        async with bare_console(f"pty:{link}") as server:  # the default budget: 2048 bytes/s, 4096 at once
            client = await connect(link)
            try:
                client.port.write(b"status " + b"1" * 6000 + b"\r")
                client.port.flush()
                refusal = await asyncio.to_thread(client._read_answer, 5.0)
                await asyncio.sleep(0.3)  # a person starts typing the next command
                answer = await ask(client, "version")
            finally:
                client.close()
            return refusal, answer, server.stats()

    refusal, answer, stats = asyncio.run(scenario())
    assert b"error: input faster than 2048 bytes/s" in refusal and b"the line is discarded" in refusal
    assert answer.startswith("dc-charger-controller ")
    assert stats["input_dropped"] > 0


def _enable_via_client(tmp_path, argv_tail: list[str], env: dict | None = None):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            old = {k: os.environ.get(k) for k in (env or {})}
            os.environ.update(env or {})
            try:
                code = await asyncio.to_thread(main, [cab.path, *argv_tail, "disable"])
            finally:
                for k, v in old.items():
                    os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
            return code, cab.connector.enabled
    return asyncio.run(scenario())


def test_the_pin_comes_from_a_file(tmp_path, capsys):
    pin_file = tmp_path / "pin"
    pin_file.write_text(TECH_PIN + "\n")
    pin_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    code, enabled = _enable_via_client(tmp_path, ["--pin-file", str(pin_file)])
    captured = capsys.readouterr()
    assert code == 0 and enabled is False and "warning" not in captured.err


def test_the_pin_comes_from_the_environment(tmp_path, capsys):
    code, enabled = _enable_via_client(tmp_path, [], {"CHARGER_CONSOLE_PIN": TECH_PIN})
    assert code == 0 and enabled is False


def test_the_pin_comes_from_a_prompt(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": TECH_PIN)
    code, enabled = _enable_via_client(tmp_path, ["--ask-pin"])
    assert code == 0 and enabled is False


def test_a_pin_on_the_command_line_still_works_with_a_warning(tmp_path, capsys):
    code, enabled = _enable_via_client(tmp_path, ["--pin", TECH_PIN])
    err = capsys.readouterr().err
    assert code == 0 and enabled is False
    assert "warning: --pin shows the PIN to every user of this machine" in err


def test_a_missing_pin_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "console"), "--pin-file", str(tmp_path / "nope"), "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("charger-console: cannot read --pin-file ") and err.count("\n") == 1
