"""The spurious-trip bench's command line: bad input is one line and exit 2, before anything runs."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["tools.bench.load_trips", "tools.bench"])
@pytest.mark.parametrize("minutes", ["0", "-1", "601", "ten"])
def test_bad_minutes_is_refused(module, minutes, tmp_path):
    done = subprocess.run([sys.executable, "-m", module, "--minutes", minutes, "--out", str(tmp_path / "r.json")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "--minutes" in done.stderr and "Traceback" not in done.stderr
