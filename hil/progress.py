"""Live progress on the terminal and the summary table at the end of a run."""
from __future__ import annotations

import asyncio
import sys
from typing import TextIO

BAR_WIDTH = 24


class Progress:
    def __init__(self, stream: TextIO = sys.stdout, period_s: float = 0.25):
        self.stream = stream
        self.tty = stream.isatty()
        self.period_s = period_s if self.tty else 1.0
        self._last_line = ""

    async def follow(self, run) -> None:
        cid = next(iter(run.cars))
        car = run.cars[cid]
        target = run.setup.car.target_soc
        start = car.battery.soc_percent
        try:
            while True:
                plant = run.rig.plants[cid]
                kw = sum(p.cable_voltage_v * p.output_current_a for p in run.rig.plants.values()) / 1000.0
                kwh = sum(p.energy_wh for p in run.rig.plants.values()) / 1000.0
                soc = car.battery.soc_percent
                done = max(0.0, min(1.0, (soc - start) / max(1e-6, target - start)))
                bar = "#" * int(done * BAR_WIDTH) + "." * (BAR_WIDTH - int(done * BAR_WIDTH))
                state = run.state.states.get(cid, "?")
                line = (f"{state:<19} {plant.cable_voltage_v:6.1f} V {plant.output_current_a:6.1f} A "
                        f"{kw:6.1f} kW  SoC {soc:5.1f} %  {kwh:6.3f} kWh [{bar}]")
                self._show(line)
                await asyncio.sleep(self.period_s)
        finally:
            if self.tty:
                self.stream.write("\n")

    def _show(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif line != self._last_line:
            self.stream.write(line + "\n")
            self.stream.flush()
        self._last_line = line


def summary(report: dict, problems: list[str]) -> str:
    rows = [("scenario", report["scenario"]), ("setup", report["setup"]), ("result", report["result"]),
            ("energy", f"{report['energy_kwh']:.4f} kWh"), ("peak power", f"{report['peak_kw']:.1f} kW")]
    for conn in report["connectors"]:
        final = conn["final"]
        rows.append((f"connector {conn['connector']}",
                     f"{final['state']}, contactors {'closed' if final['contactors_closed'] else 'open'}, "
                     f"modules {'on' if final['modules_on'] else 'off'}, {final['output_current_a']:.1f} A, "
                     f"car SoC {conn['car']['soc']} % ({conn['car']['reason']}), stop: {conn['stop_reason'] or '-'}"))
    for fault in report["faults"]:
        rows.append(("fault", f"{fault['code']} ({fault['severity']}, connector {fault['connector']}, "
                              f"t={fault['t']} s, from {fault['source']})"))
    rows.append(("verdict", "as expected" if not problems else "NOT as expected: " + "; ".join(problems)))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
