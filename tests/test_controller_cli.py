"""charger-controller refuses a bad config at start with the key and the reason, and no traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[1]
DESK = (ROOT / "hil/setups/desk/cabinet.toml").read_text()


def _start(tmp_path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "cabinet.toml"
    path.write_text(text)
    return subprocess.run([sys.executable, "-m", "controller", "--config", str(path)],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)


@pytest.mark.parametrize("old,new,message", [
    ('vendor = "infypower"', 'vendor = "acme"', "config error at 'power.vendor': unknown vendor 'acme'"),
    ('max_current_a = 200', 'max_current_a = -5', "config error at 'connectors[0].max_current_a': must be positive"),
    ('bitrate = 125000', 'bitrate = "fast"', "config error at 'can.power.bitrate': expected an integer"),
    ('[power]', '[powr]', "config error at 'powr': unknown key"),
])
def test_bad_config_exits_2_with_key_and_reason(tmp_path, old, new, message):
    assert old in DESK
    done = _start(tmp_path, DESK.replace(old, new, 1))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_config_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(tmp_path / "nope.toml")],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 2 and "cannot read" in done.stderr
