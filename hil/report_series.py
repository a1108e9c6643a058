"""What a person looks at after a run: every connector's time series as CSV, and a plot of it.

The series is sampled from the rig's side of the wires (the plant, the car's battery, the I/O board's
temperature model) while the phase comes from the controller's events, or the car's own phases where
the controller reports none. matplotlib is imported only when a plot is drawn: the controller and a
rig run without --report never pay for it.
"""
from __future__ import annotations

import asyncio
import csv
import time
from pathlib import Path

SAMPLE_PERIOD_S = 0.1
COLUMNS = ("t_s", "connector", "phase", "voltage_v", "current_a", "power_kw", "soc_percent", "energy_kwh",
           "pin_temp_c", "cable_temp_c", "module_temp_max_c")
PHASE_COLOURS = {  # shaded behind the curves; faults in red tones
    "plugged": "#eeeeee", "negotiating": "#e3ecf7", "authorizing": "#e3ecf7", "parameter_discovery": "#d6e4f5",
    "cable_check": "#fff2cc", "precharge": "#ffe5b4", "charging": "#dff0d8", "stopping": "#f2e6f7",
    "welding_detection": "#ece0f2", "session_end": "#f5f5f5", "error_shutdown": "#f8d7da", "emergency": "#f1a9a0",
    "unavailable": "#dddddd",
}


class SeriesRecorder:
    """Samples every connector of a running ScenarioRun until cancelled."""

    def __init__(self, run, period_s: float = SAMPLE_PERIOD_S):
        self.run = run
        self.period_s = period_s
        self.rows: list[dict] = []

    async def follow(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.period_s)

    def phase(self, cid: int) -> str:
        run = self.run
        if run.controller is not None and run.controller.reports_events:
            return run.state.states.get(cid, "")
        car = run.cars.get(cid)
        return car.phase if car is not None else ""

    def sample(self) -> None:
        run = self.run
        t = round(time.time() - run.state.t0, 3)
        for cid, plant in run.rig.plants.items():
            car = run.cars.get(cid)
            pin, _, cable = run.rig.io_sims[cid].temperatures_c()
            modules = run.rig.module_models.get(cid, [])
            self.rows.append({
                "t_s": t, "connector": cid, "phase": self.phase(cid),
                "voltage_v": round(plant.cable_voltage_v, 1), "current_a": round(plant.output_current_a, 1),
                "power_kw": round(plant.cable_voltage_v * plant.output_current_a / 1000.0, 2),
                "soc_percent": round(car.battery.soc_percent, 2) if car is not None else "",
                "energy_kwh": round(plant.energy_wh / 1000.0, 4),
                "pin_temp_c": round(pin, 1), "cable_temp_c": round(cable, 1),
                "module_temp_max_c": round(max((m.temperature_c for m in modules), default=0.0), 1),
            })


def series_paths(report_path: str | Path) -> tuple[Path, Path]:
    """Where the CSV and the plot of a report go: next to it, named after it."""
    report = Path(report_path)
    stem = report.with_suffix("") if report.suffix == ".json" else report
    return stem.with_name(stem.name + "-series.csv"), stem.with_name(stem.name + "-plot.png")


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def phase_spans(rows: list[dict]) -> list[tuple[str, float, float]]:
    """(phase, start, end) for one connector's rows in time order."""
    spans: list[tuple[str, float, float]] = []
    for row in rows:
        t, phase = row["t_s"], row["phase"]
        if spans and spans[-1][0] == phase:
            spans[-1] = (phase, spans[-1][1], t)
        else:
            if spans:
                spans[-1] = (spans[-1][0], spans[-1][1], t)
            spans.append((phase, t, t))
    return spans


def write_plot(rows: list[dict], path: Path, title: str) -> None:
    """V, A, kW and SoC over time, one column of panels per connector, the phases shaded behind them."""
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    connectors = sorted({r["connector"] for r in rows})
    panels = (("voltage_v", "voltage (V)", "tab:blue"), ("current_a", "current (A)", "tab:orange"),
              ("power_kw", "power (kW)", "tab:green"), ("soc_percent", "car SoC (%)", "tab:purple"))
    figure, axes = pyplot.subplots(len(panels), len(connectors), sharex=True, squeeze=False,
                                   figsize=(max(8.0, 4.5 * len(connectors)), 9.0))
    seen_phases: dict[str, str] = {}
    for col, cid in enumerate(connectors):
        own = [r for r in rows if r["connector"] == cid]
        times = [r["t_s"] for r in own]
        spans = phase_spans(own)
        for row_index, (key, label, colour) in enumerate(panels):
            ax = axes[row_index][col]
            for phase, start, end in spans:
                if phase in PHASE_COLOURS and end > start:
                    ax.axvspan(start, end, color=PHASE_COLOURS[phase], linewidth=0)
                    seen_phases.setdefault(phase, PHASE_COLOURS[phase])
            values = [r[key] if r[key] != "" else float("nan") for r in own]
            ax.plot(times, values, color=colour, linewidth=1.4)
            ax.grid(True, alpha=0.3)
            if col == 0:
                ax.set_ylabel(label)
            if row_index == 0:
                ax.set_title(f"connector {cid}")
        axes[-1][col].set_xlabel("time since start (s)")
    figure.suptitle(title)
    order = [p for p in PHASE_COLOURS if p in seen_phases]
    figure.legend(handles=[Patch(color=seen_phases[p], label=p.replace("_", " ")) for p in order],
                  loc="lower center", ncol=min(6, max(1, len(order))), fontsize="small", frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 0.96))
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def write_series(rows: list[dict], report_path: str | Path, title: str) -> dict:
    """CSV always; the plot when matplotlib is installed. Returns the paths written (and why a plot is not)."""
    csv_path, png_path = series_paths(report_path)
    write_csv(rows, csv_path)
    out = {"csv": str(csv_path)}
    try:
        write_plot(rows, png_path, title)
    except ImportError:
        out["plot_skipped"] = "matplotlib is not installed (pip install -c constraints.txt '.[plot]')"
    else:
        out["plot"] = str(png_path)
    return out
