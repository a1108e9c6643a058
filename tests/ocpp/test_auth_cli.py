"""The authorization scenarios need the rig's own CSMS and reader: with --csms they are refused in one line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["rfid", "local-list-offline", "autocharge"])
def test_an_outside_csms_is_refused_for_the_authorization_scenarios(name):
    done = subprocess.run([sys.executable, "-m", "hil", "run", "--scenario", name, "--csms", "ws://127.0.0.1:9/ocpp"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=50)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"scenario {name} needs the rig's own CSMS" in done.stderr
    assert "Traceback" not in done.stderr
