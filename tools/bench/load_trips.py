"""Spurious I/O board trips under CPU load: the nevi cabinet charges session after session on all four
connectors while `stress-ng --cpu 4` competes for the CPUs, and every IO_WATCHDOG_TRIPPED, IO_BOARD_LOST,
CONTROLLER_INTERNAL and board-side trip is counted (nothing is injected: each one is spurious).

    python -m tools.bench.load_trips [--minutes N] [--no-stress] [--out PATH]

Also measured, to show where the time goes: how long the process waited for a CPU (/proc/self/schedstat),
garbage-collector pauses (gc.callbacks), how late a 10 ms timer fired in the shared loop, and the longest gap
between two status periods of the board simulators (the rig starving).
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hil.ev.car import CarPlan
from tools.bench.cabinet import BenchCabinet, wait_until
from tools.bench.fault_reaction import LoopLagProbe
from tools.bench.stats import summarize

SETUP = "nevi"
STRESS_CPUS = 4
MAKE_BENCH_MINUTES = 2.0
QUICK_SECONDS = 8.0
SPURIOUS = ("IO_WATCHDOG_TRIPPED", "IO_BOARD_LOST", "CONTROLLER_INTERNAL")
AVAILABLE_TIMEOUT_S = 30.0


class GcPauses:
    """Every collection's duration, by generation."""

    def __init__(self) -> None:
        self.pauses_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._start: float | None = None

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.pauses_ms[info["generation"]].append((time.perf_counter() - self._start) * 1000.0)
            self._start = None


class TickGaps:
    """The gaps between status periods of every board simulator (20 ms when the rig is not starved)."""

    def __init__(self, sims) -> None:
        self.gaps_ms: list[float] = []
        for sim in sims:
            self._wrap(sim)

    def _wrap(self, sim) -> None:
        tick, last = sim.tick, [None]

        def timed_tick() -> None:
            now = time.monotonic()
            if last[0] is not None:
                self.gaps_ms.append((now - last[0]) * 1000.0)
            last[0] = now
            tick()
        sim.tick = timed_tick


def _schedstat() -> tuple[float, float] | None:
    """(seconds on a CPU, seconds waiting for one) of this process's main thread, or None off Linux."""
    try:
        run_ns, wait_ns, _ = Path("/proc/self/schedstat").read_text().split()
    except (OSError, ValueError):
        return None
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


async def _keep_charging(run: BenchCabinet, cid: int, deadline: float, sessions: list[dict]) -> None:
    """Plug a fresh car whenever the connector is available again, until the deadline."""
    car_cfg = run.setup.car
    plan = CarPlan(target_soc=car_cfg.target_soc, request_period_s=car_cfg.request_period_s)
    while time.monotonic() < deadline:
        try:
            await wait_until(lambda: run.state.states.get(cid) == "available", AVAILABLE_TIMEOUT_S,
                             f"connector {cid} available")
        except TimeoutError:
            sessions.append({"connector": cid, "ok": False, "reason": f"stuck in {run.state.states.get(cid)}"})
            return
        outcome = await run.plug_car(cid, plan)
        sessions.append({"connector": cid, "ok": outcome.ok, "reason": outcome.reason})
        if run.rig.plants[cid].ev_cp_state != "A":
            run.cars[cid].unplug()  # a failed session leaves the car plugged in (CP B)


async def soak(seconds: float) -> dict[str, Any]:
    run = BenchCabinet(SETUP, "in_process")
    gc_pauses, lag = GcPauses(), LoopLagProbe(period_s=0.01)
    sessions: list[dict] = []
    gc.callbacks.append(gc_pauses)
    try:
        await run.start()
        gaps = TickGaps(run.rig.io_sims.values())
        lag.start()
        sched0, cpu0, wall0 = _schedstat(), time.process_time(), time.monotonic()
        deadline = wall0 + seconds
        await asyncio.gather(*(_keep_charging(run, cid, deadline, sessions) for cid in run.connector_ids))
        wall = time.monotonic() - wall0
        sched1, cpu = _schedstat(), time.process_time() - cpu0
        await lag.stop()
        faults = [f for f in run.state.faults if f["code"] in SPURIOUS]
        board_trips = {cid: list(sim.trips) for cid, sim in run.rig.io_sims.items() if sim.trips}
        ocpp = run.ocpp_link()
    finally:
        gc.callbacks.remove(gc_pauses)
        await lag.stop()
        await run.close()
    waited = None if not (sched0 and sched1) else round(sched1[1] - sched0[1], 3)
    return {
        "charging_s": round(wall, 1),
        "sessions": len(sessions), "sessions_ok": sum(s["ok"] for s in sessions),
        "failed_sessions": [s for s in sessions if not s["ok"]][:20],
        "spurious": {code: sum(f["code"] == code for f in faults) for code in SPURIOUS},
        "spurious_total": len(faults) + sum(len(t) for t in board_trips.values()),
        "board_trips": board_trips,
        "faults_seen": sorted({f["code"] for f in run.state.faults}),
        "process_cpu_s": round(cpu, 2), "waited_for_cpu_s": waited,
        "waited_for_cpu_ms_per_s": None if waited is None else round(waited / wall * 1000.0, 1),
        "gc_pauses_ms": {f"gen{g}": summarize(p) for g, p in gc_pauses.pauses_ms.items()},
        "loop_lag_ms": summarize(lag.lags_ms), "board_sim_tick_gap_ms": summarize(gaps.gaps_ms), "ocpp": ocpp,
    }


def _start_stress(seconds: float) -> subprocess.Popen | None:
    exe = shutil.which("stress-ng")
    if exe is None:
        return None
    # --timeout: stress-ng ends by itself even if this process is killed
    return subprocess.Popen([exe, "--cpu", str(STRESS_CPUS), "--timeout", f"{int(seconds) + 30}s", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_load_trips(quick: bool, minutes: float | None = None, stress: bool | None = None) -> dict[str, Any]:
    """The figure for `make bench`: quick runs charge briefly without stress (a harness check)."""
    seconds = QUICK_SECONDS if quick else 60.0 * (MAKE_BENCH_MINUTES if minutes is None else minutes)
    stress = (not quick) if stress is None else stress
    method = (f"nevi cabinet in one process (controller, rig, 4 cars), sessions back to back on every connector "
              f"for {seconds / 60:.1f} min" + (f" under stress-ng --cpu {STRESS_CPUS}" if stress else " without stress")
              + "; every IO_WATCHDOG_TRIPPED / IO_BOARD_LOST / CONTROLLER_INTERNAL and board-side trip counts "
              "(nothing injected); OCPP connected to the rig's CSMS over TLS (security profile 2)")
    proc = None
    if stress:
        proc = _start_stress(seconds)
        if proc is None:
            return {"status": "skipped", "reason": "stress-ng is not installed (Debian package stress-ng)",
                    "method": method}
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        result = asyncio.run(soak(seconds))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"status": "ok", "stress": f"stress-ng --cpu {STRESS_CPUS}" if stress else "none",
            "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()],
            **result, "method": method}


def describe(figure: dict[str, Any]) -> list[str]:
    if figure.get("status") != "ok":
        return []
    gc_worst = max((g.get("max", 0.0) for g in figure["gc_pauses_ms"].values()), default=0.0)
    gaps = figure["board_sim_tick_gap_ms"]
    return [f"  spurious trips {figure['spurious_total']} ({figure['spurious']}, board {figure['board_trips']}) in "
            f"{figure['charging_s']} s, {figure['sessions_ok']}/{figure['sessions']} sessions ok; "
            f"stress {figure['stress']}; load {figure['load_average_before']} -> {figure['load_average_after']}",
            f"  where the time went: waited for a CPU {figure['waited_for_cpu_ms_per_s']} ms per s, process CPU "
            f"{figure['process_cpu_s']} s; GC pauses max {gc_worst:.1f} ms; loop lag (10 ms timer) "
            f"p99 {figure['loop_lag_ms'].get('p99')} max {figure['loop_lag_ms'].get('max')} ms; board sim status "
            f"period p99 {gaps.get('p99')} max {gaps.get('max')} ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.load_trips", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=MAKE_BENCH_MINUTES, help="charging time (default 2)")
    parser.add_argument("--no-stress", action="store_true", help="no stress-ng (a baseline)")
    parser.add_argument("--out", type=Path, help="also write the figure as JSON here")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 600:
        parser.error("--minutes must be above 0 and at most 600")
    import logging
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    figure = run_load_trips(False, args.minutes, stress=not args.no_stress)
    if args.out:
        args.out.write_text(json.dumps(figure, indent=2) + "\n")
    print(json.dumps({k: v for k, v in figure.items() if k != "method"}, indent=2))
    print("\n".join(describe(figure)))
    return 0 if figure.get("status") != "ok" or figure["spurious_total"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
