"""charger-console against a console served on a pty: one command, exit codes, login, interactive use."""
from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.console.harness import TECH_PIN, RawPty, bare_console, cabinet
from tools.charger_console import main

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def run_client(tmp_path, argv_tail: list[str], capsys, **options) -> tuple[list[int], str, str, object]:
    """Run charger-console once per argument list in `argv_tail` (PORT is put first) against the cabinet."""
    async def scenario():
        async with cabinet(tmp_path, **options) as cab:
            codes = [await asyncio.to_thread(main, [cab.path, *args]) for args in argv_tail]
            return codes, cab.connector.enabled

    codes, enabled = asyncio.run(scenario())
    out, err = capsys.readouterr()
    return codes, out, err, enabled


def test_one_command_in_json_prints_the_answer_and_exits_0(tmp_path, capsys):
    codes, out, err, _ = run_client(tmp_path, [["status", "--json"], ["json", "version"]], capsys)
    assert codes == [0, 0] and err == ""
    status, version = (json.loads(line) for line in out.splitlines())
    assert status["ok"] is True and status["data"]["connectors"][0]["state"] == "available"
    assert version["data"]["cabinet"] == "desk"


def test_an_error_answer_exits_1(tmp_path, capsys):
    codes, out, err, _ = run_client(tmp_path, [["stop"], ["stop", "--json"], ["frobnicate"]], capsys)
    assert codes == [1, 1, 1]
    lines = out.splitlines()
    assert lines[0] == "error: stop needs the technician role; log in with: login PIN"
    assert json.loads(lines[1])["ok"] is False
    assert lines[2] == "error: unknown command 'frobnicate'; type help"


def test_pin_logs_in_first_and_a_wrong_pin_exits_1(tmp_path, capsys):
    """The client logs out when it leaves: the next run starts with the default role again."""
    codes, out, err, enabled = run_client(
        tmp_path, [["--pin", TECH_PIN, "disable"], ["--pin", "0000", "enable"], ["--timeout", "5", "enable"]],
        capsys)
    assert codes == [0, 1, 1]
    assert out.splitlines()[0] == "connector 1: disabled, unavailable"
    assert "charger-console: login refused: wrong PIN (1 of 5 before lockout)" in err
    assert enabled is False  # neither the refused login nor the viewer could enable it again


def test_a_text_answer_ending_in_an_error_exits_1(tmp_path, capsys):
    """selftest prints its steps, then the verdict: the verdict decides."""
    async def scenario():
        async with cabinet(tmp_path) as cab:
            cab.rig.imd_sims[1].self_test_fails = True
            return await asyncio.to_thread(main, [cab.path, "--pin", TECH_PIN, "selftest"])

    code = asyncio.run(scenario())
    out = capsys.readouterr().out
    assert code == 1 and "io_board" in out and out.splitlines()[-1].startswith("error: selftest of connector 1")


def test_a_port_that_cannot_be_opened_exits_2_with_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "ttyUSB9"), "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"charger-console: cannot open {tmp_path / 'ttyUSB9'}: ") and err.count("\n") == 1


def test_a_port_without_a_console_exits_2(capsys):
    silent = RawPty()
    try:
        assert main([silent.path, "--timeout", "0.3", "status"]) == 2
    finally:
        silent.close()
    err = capsys.readouterr().err
    assert err == "charger-console: no console prompt within 0.3 s (wrong port or baud rate, " \
                  "or the controller is not running?)\n"


def test_a_command_line_too_long_is_refused_before_sending(tmp_path, capsys):
    async def scenario():
        async with bare_console(f"pty:{tmp_path / 'console'}") as server:
            code = await asyncio.to_thread(main, [str(tmp_path / "console"), "log", "1" * 300])
            return code, server.stats()

    code, stats = asyncio.run(scenario())
    assert code == 2 and stats["lines"] == 1 and stats["rejected_lines"] == 0  # only the logout on leaving
    assert "at most 256 printable ASCII characters" in capsys.readouterr().err


def test_interactive_mode_is_a_plain_line_terminal(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tools.charger_console", cab.path, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
            script = f"status\n\nlogin {TECH_PIN}\ndisable\nfrobnicate\nquit\n".encode()
            out, err = await asyncio.wait_for(process.communicate(script), 30)
            return process.returncode, out.decode(), err.decode(), cab.connector.enabled

    code, out, err, enabled = asyncio.run(scenario())
    assert code == 0, err
    assert out.startswith("connected; desk:viewer> console")
    assert "connector 1 CCS1: available" in out and "logged in as technician" in out
    assert "connector 1: disabled, unavailable" in out and "error: unknown command 'frobnicate'" in out
    assert "desk:technician> " in out  # the console's prompt is shown as the local prompt
    assert enabled is False
