"""Josev's EVCC (EcoG-io iso15118 0.31.2, an independent EV implementation) charges through our SECC.

Each run is `charger-hil run --external-evcc` on the desk setup over the veth link: the rig does SLAC and plays
the car's hardware, Josev (tests/interop/josev_ev.py: its EVCC with a realistic DC car) does SDP and the V2G
messages. The verdict comes from the controller's events and its store, never from Josev's exit status.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

pytestmark = [pytest.mark.interop, pytest.mark.rig, pytest.mark.timeout(150)]


def start(josev: Path, config: str, expect: str, report: Path, env: str = "",
          settings: list[str] = ()) -> subprocess.Popen:
    """`env`: Josev's environment (e.g. PKI_PATH=...); `settings`: the station's --set KEY=VALUE."""
    car = f"cd /tmp && {env} NETWORK_INTERFACE={{iface}} {josev} {HERE / 'josev_ev.py'} {HERE / 'josev' / config}"
    sets = [arg for setting in settings for arg in ("--set", setting)]
    return subprocess.Popen([sys.executable, "-m", "hil", "run", "--setup", "desk", "--external-evcc", car,
                             *sets, "--expect", expect, "--report", str(report)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, report: Path) -> dict:
    out, _ = proc.communicate(timeout=140)
    assert report.exists(), f"no report; charger-hil said:\n{out[-3000:]}"
    data = json.loads(report.read_text())
    assert proc.returncode == 0 and not data["problems"], \
        f"{data['problems']}\nJosev's log ends:\n{data['program_log_tail'][-2000:]}"
    return data


@pytest.mark.parametrize("config, namespace", [("din.json", "urn:din:70121:2012:MsgDef"),
                                               ("iso2.json", "urn:iso:15118:2:2013:MsgDef")])
def test_josev_charges_dc_eim_to_the_end(josev, tmp_path, config, namespace):
    report = finish(start(josev, config, "charged", tmp_path / "report.json"), tmp_path / "report.json")
    handshake = next(e for e in report["events"] if e["kind"] == "v2g_handshake")
    assert handshake["chosen"] == namespace
    assert report["reached_current_demand"]
    stored = report["stored_sessions"][0]
    assert stored["status"] == "ended" and stored["energy_kwh"] > 0.0 and stored["stop_reason"] == "ev_stop"
    assert not report["final"]["contactors_closed"] and not report["final"]["modules_on"]


def test_a_car_asking_tls_charges_without_it(josev, tmp_path):
    """The station offers no TLS: a car that asks for it (and does not insist) goes on over plain TCP."""
    report = finish(start(josev, "tls.json", "charged", tmp_path / "report.json"), tmp_path / "report.json")
    assert report["reached_current_demand"] and report["stored_sessions"][0]["energy_kwh"] > 0.0


def test_refused_cars_end_cleanly_and_no_port_stays_at_5_percent(josev, tmp_path):
    """A car that insists on TLS never connects (the SDP answer says no TLS); a car offering only ISO 15118-20
    gets Failed_NoNegotiation. Neither starts a session; the connector restarts communication (CP F, then 5 %)
    20 s after plug-in. Both run at once: they mostly wait for that timer."""
    t0 = time.monotonic()
    runs = {name: (start(josev, config, "refused", tmp_path / f"{name}.json"), tmp_path / f"{name}.json")
            for name, config in (("tls", "tls-enforced.json"), ("iso20", "iso20.json"))}
    reports = {name: finish(proc, path) for name, (proc, path) in runs.items()}
    iso20 = next(e for e in reports["iso20"]["events"] if e["kind"] == "v2g_handshake")
    assert iso20["chosen"] is None and iso20["offered"] == ["urn:iso:std:iso:15118:-20:DC"]
    assert "no common protocol" in reports["iso20"]["v2g_closed"]
    assert 2.5 <= reports["iso20"]["program_stopped_after_close_s"] <= 4.0  # Josev never exits by itself
    assert not any(e["kind"] == "v2g_handshake" for e in reports["tls"]["events"])  # no plain TCP session
    for report in reports.values():
        assert not report["stored_sessions"]
        assert any(e["kind"] == "communication_restart" for e in report["events"])
    assert time.monotonic() - t0 < 90
