"""What a person looks at after a run: the summary (duration, protocol, per-port figures), the time series as
CSV and its plot beside the report, the live line for every port; and the rig's own cabinet options
(`--setup PATH`, `--set KEY=VALUE`)."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hil.__main__ import main
from hil.progress import Progress, summary
from hil.report_series import COLUMNS, phase_spans

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.rig
@pytest.mark.timeout(120)
def test_own_cabinet_with_overrides_writes_report_series_and_plot(tmp_path, capsys):
    cabinet = tmp_path / "my-cabinet.toml"
    cabinet.write_text((ROOT / "hil/setups/desk/cabinet.toml").read_text())
    report_path = tmp_path / "out" / "run.json"
    report_path.parent.mkdir()
    code = main(["run", "--scenario", "dc-session", "--setup", str(cabinet), "--protocol", "iso2",
                 "--set", "connectors[0].max_current_a=100", "--quiet", "--report", str(report_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert report["setup"] == "my-cabinet" and report["protocol"] == "iso2" and report["duration_s"] > 1.0
    csv_path, png_path = tmp_path / "out" / "run-series.csv", tmp_path / "out" / "run-plot.png"
    assert report["files"] == {"csv": str(csv_path), "plot": str(png_path)}
    # the summary: duration and protocol; the end: where everything is
    assert "protocol     iso2" in out and "duration     " in out
    assert out.rstrip().splitlines()[-3:] == [f"report  {report_path}", f"series  {csv_path}", f"plot    {png_path}"]
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    assert tuple(rows[0]) == COLUMNS
    charging = [r for r in rows if r["phase"] == "charging"]
    assert charging and max(float(r["current_a"]) for r in rows) <= 100.5  # the override reached the controller
    assert max(float(r["current_a"]) for r in charging) > 90.0
    assert float(rows[-1]["energy_kwh"]) > 0.05 and float(rows[-1]["soc_percent"]) >= 80.0
    assert float(charging[-1]["pin_temp_c"]) > float(rows[0]["pin_temp_c"])
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png_path.stat().st_size > 20_000


def test_a_bad_override_or_a_missing_cabinet_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["run", "--set", "connectors[0].max_current_a=-5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("charger-hil: config error at 'connectors[0].max_current_a'") and err.count("\n") == 1
    assert main(["run", "--setup", str(tmp_path / "nope.toml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no cabinet file at" in err and err.count("\n") == 1


def test_phase_spans_shade_each_phase_from_its_first_to_its_last_sample():
    rows = [{"t_s": t, "phase": p} for t, p in ((0.0, "plugged"), (0.1, "plugged"), (0.2, "charging"),
                                                (0.3, "charging"), (0.4, "session_end"))]
    assert phase_spans(rows) == [("plugged", 0.0, 0.2), ("charging", 0.2, 0.4), ("session_end", 0.4, 0.4)]


def _fake_run(ports: dict[int, tuple[float, float, float]]):
    """Only what the live line reads: per port (volts, amps, SoC)."""
    plants = {cid: SimpleNamespace(cable_voltage_v=v, output_current_a=a, energy_wh=100.0 * cid)
              for cid, (v, a, _) in ports.items()}
    cars = {cid: SimpleNamespace(battery=SimpleNamespace(soc_percent=soc), phase="charging")
            for cid, (_, _, soc) in ports.items()}
    return SimpleNamespace(rig=SimpleNamespace(plants=plants), cars=cars,
                           setup=SimpleNamespace(car=SimpleNamespace(target_soc=80.0)),
                           state=SimpleNamespace(states={cid: "charging" for cid in ports}))


def test_the_live_line_shows_every_port_with_its_own_figures():
    run = _fake_run({1: (400.0, 375.0, 40.0), 2: (800.0, 187.5, 50.0), 3: (500.0, 0.0, 30.0), 4: (450.0, 100.0, 70.0)})
    lines = Progress.lines(run, {cid: 30.0 for cid in run.cars})
    assert len(lines) == 5
    assert lines[0].startswith("port 1 charging") and " 150.0 kW" in lines[0] and "SoC  40.0 %" in lines[0]
    assert lines[1].startswith("port 2 charging") and " 150.0 kW" in lines[1] and "SoC  50.0 %" in lines[1]
    assert "   0.0 kW" in lines[2] and "  45.0 kW" in lines[3]
    assert lines[4] == "cabinet 4 ports   345.0 kW    1.000 kWh"
    single = Progress.lines(_fake_run({1: (400.0, 100.0, 50.0)}), {1: 30.0})
    assert len(single) == 1 and single[0].startswith("charging")


def test_the_live_line_is_printed_when_it_changes_off_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    progress._show(["a", "b"])
    progress._show(["a", "b"])
    progress._show(["a", "c"])
    assert stream.getvalue() == "a\nb\na\nc\n"


def test_the_summary_gives_duration_protocol_and_per_port_figures():
    final = {"state": "available", "contactors_closed": False, "modules_on": False, "output_current_a": 0.0}
    report = {"scenario": "dc-session", "setup": "nevi", "protocol": "din", "result": "ok", "duration_s": 31.25,
              "energy_kwh": 1.5, "peak_kw": 150.0, "faults": [],
              "connectors": [{"connector": cid, "energy_kwh": 0.25 * cid, "peak_kw": 100.0 + cid, "session_s": 20.0,
                              "stop_reason": "ev_stop", "final": final,
                              "car": {"ok": True, "reason": "target_soc", "soc": 80.0, "start_soc": 30.0}}
                             for cid in (1, 2, 3, 4)]}
    text = summary(report, [])
    assert "protocol     din" in text and "duration     31.2 s" in text
    for cid in (1, 2, 3, 4):
        assert f"port {cid}       {0.25 * cid:.4f} kWh, peak {100.0 + cid:.1f} kW, session 20.0 s, SoC 30.0 -> 80.0 %" \
            in text


def test_the_controller_and_the_runner_do_not_import_matplotlib():
    probe = ("import sys, controller.__main__, controller.app, hil.runner, hil.__main__; "
             "print('matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
