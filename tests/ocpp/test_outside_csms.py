"""charger-hil run --csms: the controller is pointed at an outside CSMS (here the rig's simulator started on
its own with `python -m hil.csms`, on loopback) and the rig starts none; the car waits up to --auth-wait for
the CSMS's RequestStartTransaction; bad options are one line and exit 2; the password never reaches a
command line."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.formats.cabinet.config import OcppConfig
from hil.csms.outside import OutsideCsms
from hil.scenarios import SCENARIOS, ScenarioRefused

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "outside-password-0123456"


def _hil(args: list[str], timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hil", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


class OutsideServer:
    """`python -m hil.csms` in a child process, as an operator's CSMS would run elsewhere."""

    def __init__(self, folder: Path, start_after_s: float):
        self.password_file = folder / "csms.password"
        self.password_file.write_text(PASSWORD + "\n")
        self.traffic = folder / "traffic.jsonl"
        url_file = folder / "url"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hil.csms", "--password-file", str(self.password_file), "--traffic",
             str(self.traffic), "--url-file", str(url_file), "--start-after", str(start_after_s)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not url_file.exists() or not url_file.read_text().strip():
            assert self.proc.poll() is None and time.monotonic() < deadline, "the outside CSMS did not start"
            time.sleep(0.05)
        self.url = url_file.read_text().strip()

    def stop(self) -> tuple[int, str, str]:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err

    def calls(self) -> list[tuple[str, dict]]:
        frames = [json.loads(json.loads(line)["frame"]) for line in self.traffic.read_text().splitlines()
                  if json.loads(line)["dir"] == "in"]
        return [(f[2], f[3]) for f in frames if f[0] == 2]


def test_a_remote_start_session_against_an_outside_csms(tmp_path):
    server = OutsideServer(tmp_path, start_after_s=2.5)
    report_path = tmp_path / "report.json"
    try:
        done = _hil(["run", "--scenario", "remote-start", "--quiet", "--csms", server.url, "--station-id", "OUT-7",
                     "--csms-password", PASSWORD, "--report", str(report_path)])
    finally:
        code, out, err = server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert code == 0, err  # no schema violation in anything the station sent
    assert "RequestStartTransaction OUT-7 evse 1: Accepted" in out
    report = json.loads(report_path.read_text())
    assert report["ocpp"] == {"csms": "outside", "url": server.url, "station_id": "OUT-7", "auth_wait_s": 120.0}
    assert "traffic" not in report["ocpp"]  # the rig started no CSMS of its own
    phases = {p["name"]: p["t"] for p in report["phases"] if p["connector"] == 1}
    assert phases["parameter_discovery"] - phases["authorizing"] >= 2.0  # the car kept asking until the start
    conn = report["connectors"][0]
    assert conn["energy_kwh"] > 0 and conn["stop_reason"] == "ev_stop"
    events = [p["eventType"] for action, p in server.calls() if action == "TransactionEvent"]
    assert events[0] == "Started" and events[-1] == "Ended" and "Updated" in events
    assert ("BootNotification", ) == tuple(a for a, _ in server.calls()[:1])


def test_the_car_gives_up_after_auth_wait_when_the_csms_does_not_start(tmp_path):
    server = OutsideServer(tmp_path, start_after_s=30.0)
    try:
        started = time.monotonic()
        done = _hil(["run", "--scenario", "remote-start", "--quiet", "--csms", server.url,
                     "--csms-password-file", str(server.password_file), "--auth-wait", "1.5"])
        took = time.monotonic() - started
    finally:
        server.stop()
    assert done.returncode == 1, done.stdout + done.stderr  # judged: no energy, the car's authorization timed out
    assert "authorize did not finish" in done.stdout + done.stderr
    assert took < 40


@pytest.mark.parametrize("args,fragments", [
    (["run", "--station-id", "X"], ("'--station-id'", "only with --csms URL")),
    (["run", "--csms-password", PASSWORD], ("'--csms-password'", "only with --csms URL")),
    (["run", "--csms", "http://127.0.0.1:9"], ("'--csms'", "ws:// or wss://")),
    (["run", "--csms", "ws://127.0.0.1:9", "--station-id", "a:b"], ("'--station-id'", "without :")),
    (["run", "--csms", "ws://127.0.0.1:9", "--csms-password", PASSWORD, "--csms-password-file", "/etc/hostname"],
     ("'--csms-password'", "either")),
    (["run", "--csms", "ws://127.0.0.1:9", "--auth-wait", "0"], ("--auth-wait", "must be above 0")),
    (["run", "--csms", "ws://127.0.0.1:9", "--csms-password", "short"], ("'--csms-password'", "16 to 40")),
    (["run", "--csms", "ws://127.0.0.1:9", "--csms-password-file", "/nonexistent/pw"],
     ("--csms-password-file", "cannot read /nonexistent/pw")),
    (["run", "--csms", "wss://127.0.0.1:9", "--csms-password", PASSWORD], ("'--csms'", "root certificate")),
    (["run", "--csms", "ws://127.0.0.1:9", "--scenario", "offline-session"], ("offline-session", "without --csms")),
], ids=["station-alone", "password-alone", "http-url", "station-colon", "both-passwords", "auth-wait-0",
        "short-password", "missing-password-file", "wss-without-root", "offline-session"])
def test_bad_csms_options_are_one_line_and_exit_2(args, fragments):
    done = _hil(args, timeout=30)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("charger-hil"), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert done.stdout == ""


def test_the_password_goes_to_the_controller_only_in_a_private_file():
    outside = OutsideCsms("ws://127.0.0.1:9", "OUT-7", password=PASSWORD)
    scenario = outside.prepare(SCENARIOS["remote-start"], OcppConfig())
    try:
        assert not any(PASSWORD in o for o in outside.overrides)
        assert "charging.auto_authorize=false" in outside.overrides and scenario.csms is None
        path = Path(next(o for o in outside.overrides if o.startswith("ocpp.password_file="))
                    .split("=", 1)[1].strip('"'))
        assert path.read_text().strip() == PASSWORD
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        outside.cleanup()
    assert not path.exists()
    with pytest.raises(ScenarioRefused):
        OutsideCsms("ws://127.0.0.1:9").prepare(SCENARIOS["offline-session"], OcppConfig())
