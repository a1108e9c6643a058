"""Live progress on the terminal and the summary table at the end of a run."""
from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from hil.ev.process_stalls import stall_line
from hil.injection.verdict import summary_rows

BAR_WIDTH = 24


class Progress:
    """One line per connector (each with its own V, A, kW, SoC and kWh) and, with several, a total line;
    redrawn in place on a terminal, printed when it changes otherwise."""

    def __init__(self, stream: TextIO = sys.stdout, period_s: float = 0.25):
        self.stream = stream
        self.tty = stream.isatty()
        self.period_s = period_s if self.tty else 1.0
        self._last: list[str] = []

    async def follow(self, run) -> None:
        start = {cid: car.battery.soc_percent for cid, car in run.cars.items()}
        try:
            while True:
                self._show(self.lines(run, start))
                await asyncio.sleep(self.period_s)
        finally:
            if self.tty and self._last:
                self.stream.write("\n")

    @staticmethod
    def lines(run, start: dict[int, float]) -> list[str]:
        target = run.setup.car.target_soc
        out = []
        for cid, car in run.cars.items():
            plant = run.rig.plants[cid]
            kw = plant.cable_voltage_v * plant.output_current_a / 1000.0
            soc = car.battery.soc_percent
            first = start.get(cid, soc)
            done = max(0.0, min(1.0, (soc - first) / max(1e-6, target - first)))
            bar = "#" * int(done * BAR_WIDTH) + "." * (BAR_WIDTH - int(done * BAR_WIDTH))
            state = run.state.states.get(cid) or car.phase
            prefix = f"port {cid} " if len(run.cars) > 1 else ""
            out.append(f"{prefix}{state:<19} {plant.cable_voltage_v:6.1f} V {plant.output_current_a:6.1f} A "
                       f"{kw:6.1f} kW  SoC {soc:5.1f} %  {plant.energy_wh / 1000.0:6.3f} kWh [{bar}]")
        if len(run.cars) > 1:
            plants = [run.rig.plants[cid] for cid in run.cars]
            kw = sum(p.cable_voltage_v * p.output_current_a for p in plants) / 1000.0
            kwh = sum(p.energy_wh for p in plants) / 1000.0
            out.append(f"cabinet {len(plants)} ports {kw:7.1f} kW  {kwh:7.3f} kWh")
        return out

    def _show(self, lines: list[str]) -> None:
        if self.tty:
            up = f"\x1b[{len(self._last) - 1}F" if len(self._last) > 1 else "\r"
            self.stream.write((up if self._last else "") + "\n".join(f"{line}\x1b[K" for line in lines))
            self.stream.flush()
        elif lines != self._last:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        self._last = lines


def summary(report: dict, problems: list[str]) -> str:
    rows = [("scenario", report["scenario"]), ("setup", report["setup"]),
            ("protocol", report.get("protocol", "-")), ("result", report["result"]),
            ("duration", f"{report['duration_s']:.1f} s" if report.get("duration_s") is not None else "-"),
            ("energy", f"{report['energy_kwh']:.4f} kWh"), ("peak power", f"{report['peak_kw']:.1f} kW")]
    for conn in report["connectors"]:
        final = conn["final"]
        car = conn["car"]
        if len(report["connectors"]) > 1 or conn.get("session_s") is not None:
            session = f", session {conn['session_s']:.1f} s" if conn.get("session_s") is not None else ""
            rows.append((f"port {conn['connector']}",
                         f"{conn['energy_kwh']:.4f} kWh, peak {conn['peak_kw']:.1f} kW{session}, "
                         f"SoC {car.get('start_soc', '?')} -> {car['soc']} %"))
        rows.append((f"connector {conn['connector']}",
                     f"{final['state']}, contactors {'closed' if final['contactors_closed'] else 'open'}, "
                     f"modules {'on' if final['modules_on'] else 'off'}, {final['output_current_a']:.1f} A, "
                     f"car SoC {car['soc']} % ({car['reason']}), stop: {conn['stop_reason'] or '-'}"))
        if stalled := stall_line(car.get("stalls") or {}):
            rows.append((f"car {conn['connector']}", stalled))
    for fault in report["faults"]:
        rows.append(("fault", f"{fault['code']} ({fault['severity']}, connector {fault['connector']}, "
                              f"t={fault['t']} s, from {fault['source']})"))
    rows += summary_rows(report)  # --inject: each injection's code, time to safe and the new session
    rows.append(("verdict", "as expected" if not problems else "NOT as expected: " + "; ".join(problems)))
    return "\n".join(_aligned(rows))


def files_lines(report_path: str | None, report: dict) -> list[str]:
    """Where a person finds what the run wrote."""
    files = report.get("files") or {}
    out = [("report", report_path)] if report_path else []
    out += [("series", files.get("csv")), ("plot", files.get("plot") or files.get("plot_skipped"))]
    return _aligned([(k, v) for k, v in out if v])


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(k) for k, _ in rows), default=0)
    return [f"{k:<{width}}  {v}" for k, v in rows]
