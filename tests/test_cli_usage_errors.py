"""A command-line mistake in any of the programs is one line on stderr and exit status 2 (no usage block)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module,args,fragment", [
    ("controller", [], "the following arguments are required: --config"),
    ("controller", ["--config", "x.toml", "--bogus"], "unrecognized arguments: --bogus"),
    ("hil", ["run", "--protocol", "foo"], "invalid choice: 'foo'"),
    ("hil", ["run", "--start-timeout", "0"], "'0' must be above 0"),
    ("hil", ["run", "--start-timeout", "soon"], "'soon' is not a number of seconds"),
    ("hil", [], "the following arguments are required: command"),
    ("tools.charger_console", [], "the following arguments are required: port"),
], ids=["controller-no-config", "controller-unknown", "hil-choice", "hil-start-timeout-zero",
        "hil-start-timeout-word", "hil-no-command", "console-no-port"])
def test_a_usage_mistake_is_one_line_and_exit_2(module, args, fragment):
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=45,
                          cwd=ROOT, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert fragment in lines[0] and "--help" in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
