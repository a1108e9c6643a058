"""charger-hil: bad options end in one line and exit 2 before the run; Ctrl-C stops cleanly with a report."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[1]


def _hil(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hil", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


@pytest.mark.parametrize("args,fragments", [
    (["--log-level", "foo", "run"], ("'--log-level'", "'foo' is not a log level")),
    (["run", "--can", "nosuch:x"], ("'--can'", "unknown python-can interface 'nosuch'")),
    (["run", "--can", "socketcan:can7"], ("'--can'", "socketcan:can7: ")),
    (["run", "--report", "/nonexistent-folder/r.json"], ("'--report'", "the folder /nonexistent-folder does not exist")),
    (["run", "--pcap", "/nonexistent-folder/v2g.pcap"], ("'--pcap'", "the folder /nonexistent-folder does not exist")),
    (["rig", "--secc", "[::1]:47100", "--report", "/tmp"], ("'--report'", "/tmp is a folder")),
], ids=["log-level", "can-interface", "socketcan", "report-folder", "pcap-folder", "report-is-folder"])
def test_bad_options_are_one_line_and_exit_2_before_anything_runs(args, fragments):
    started = time.monotonic()
    done = _hil(args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("charger-hil: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert done.stdout == ""  # no scenario started
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("args,fragment", [
    (["run", "--protocol", "evlink"], "invalid choice: 'evlink'"),
    (["rig", "--secc", "[::1]:47100", "--ev-link", "127.0.0.1:47100"], "unrecognized arguments: --ev-link"),
], ids=["protocol-evlink", "rig-ev-link"])
def test_the_json_ev_link_options_are_gone(args, fragment):
    done = _hil(args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("charger-hil"), done.stderr
    assert fragment in lines[0] and done.stdout == ""


def test_ctrl_c_stops_cleanly_and_writes_the_partial_report(tmp_path):
    report = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "hil", "run", "--scenario", "dc-session", "--setup", "desk",
                             "--report", str(report)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = b""
        while b"charging " not in seen:  # the live line (rewritten with \r): the car is charging, current flows
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait(timeout=30)
                pytest.fail("the run ended before it was charging:\n" + seen.decode(errors="replace")
                            + proc.stderr.read().decode(errors="replace"))
            seen += chunk
        proc.send_signal(signal.SIGINT)
        out, err = (text.decode(errors="replace") for text in proc.communicate(timeout=30))
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "verdict      NOT as expected: interrupted by SIGINT" in out
    result = json.loads(report.read_text())
    assert result["result"] == "interrupted" and result["interrupted_by"] == "SIGINT"
    assert "charging" in [p["name"] for p in result["phases"]]
    final = result["connectors"][0]["final"]
    assert final["state_at_interrupt"] == "charging"
    assert final["contactors_closed"] is False and final["modules_on"] is False and final["output_current_a"] == 0.0
    assert result["connectors"][0]["rig_energy_kwh"] > 0
    series = Path(result["files"]["csv"]).read_text().splitlines()
    assert len(series) > 2 and series[0].startswith("t")  # the time series up to the Ctrl-C


def test_a_missing_dbc_is_one_line_before_any_bus_opens(tmp_path):
    (tmp_path / "dbc").mkdir()
    (tmp_path / "dbc/__init__.py").write_text("")  # a `dbc` package without its files: a broken install
    done = subprocess.run([sys.executable, "-m", "hil", "run", "--quiet"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"charger-hil: DBC file io_board.dbc not found in {tmp_path / 'dbc'} (shipped: none); reinstall the controller"]
