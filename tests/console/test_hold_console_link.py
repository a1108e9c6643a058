"""A technician's view of a held rig: `charger-console PATH status --json` against
`charger-hil run --hold --console-link PATH`."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]
ROOT = Path(__file__).resolve().parents[2]


def test_console_status_of_a_held_rig(tmp_path):
    link = tmp_path / "console"
    rig = subprocess.Popen([sys.executable, "-m", "hil", "run", "--scenario", "dc-session", "--quiet", "--hold",
                            "--console-link", str(link)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "holding" not in line:
            assert time.monotonic() < deadline and rig.poll() is None, rig.stderr.read()
            line = rig.stdout.readline()
        assert link.exists()
        done = subprocess.run([sys.executable, "-m", "tools.charger_console", str(link), "status", "--json"],
                              capture_output=True, text=True, timeout=30, cwd=ROOT)
        assert done.returncode == 0, done.stdout + done.stderr
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        assert answer["ok"] is True
        text = json.dumps(answer["data"])
        assert "available" in text  # the car has left; the port waits for the next one
    finally:
        rig.send_signal(signal.SIGINT)
        try:
            rig.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rig.kill()
            rig.wait()
    assert rig.returncode == 0
    assert not link.exists()  # the console's link goes with the controller
