"""charger-controller refuses a bad [pricing] at start: exit 2, one line with the key and the reason."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
DESK = (ROOT / "hil/setups/desk/cabinet.toml").read_text()


@pytest.mark.parametrize("table,message", [
    ('[pricing]\nenergy_price = "0,45"\n', "config error at 'pricing.energy_price': '0,45' is not a decimal number"),
    ('[pricing]\nsession_fee = "-1"\n', "config error at 'pricing.session_fee': must be a finite amount of 0 or more"),
    ('[pricing]\nenergy_price = 0.45\n', "config error at 'pricing.energy_price': expected a string"),
    ('[pricing]\ncurrency = "dollars"\n', "config error at 'pricing.currency': an ISO 4217 code"),
])
def test_a_bad_price_stops_the_start_with_one_line(tmp_path, table, message):
    path = tmp_path / "cabinet.toml"
    path.write_text(DESK + "\n" + table)
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(path)],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip()]) == 1, done.stderr
