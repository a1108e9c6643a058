"""Ctrl-C (or SIGTERM) during `charger-hil run`: a clean stop and the report of what was seen so far.

The signal cancels the scenario task; its own clean-up (controller stop, which powers every connector down,
then the rig) runs as usual. The report then says `"result": "interrupted"` with the phases, faults and
sessions seen, and each connector's state after the stop; the caller exits 130 (128 + SIGINT), the shell's
convention for a run that did not finish.
"""
from __future__ import annotations

import asyncio
import signal
import time

from hil.report_series import write_series
from hil.runner import ScenarioRun, run_scenario
from hil.setup import RigSetup

INTERRUPTED = "interrupted"
EXIT_INTERRUPTED = 130


async def run_until_interrupted(name: str, setup: RigSetup, **kwargs) -> tuple[dict, list[str]]:
    """run_scenario, except that SIGINT/SIGTERM end it cleanly with a partial report."""
    runs: list[ScenarioRun] = []
    task = asyncio.ensure_future(run_scenario(name, setup, on_run=runs.append, **kwargs))
    loop = asyncio.get_running_loop()
    received: list[str] = []

    def interrupt(sig: signal.Signals) -> None:
        hold_stop = getattr(runs[0], "hold_stop", None) if runs else None
        if hold_stop is not None and not hold_stop.is_set():  # Ctrl-C ends a --hold: the run reports as usual
            hold_stop.set()
            return
        if not received:  # a second Ctrl-C must not cut the clean-up short
            received.append(sig.name)
            if runs:
                runs[0].state.closed = True  # the report holds what was seen before the Ctrl-C
            loop.set_exception_handler(_quiet_cancelled)
            task.cancel()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, interrupt, sig)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        report = partial_report(runs[0], received[0]) if runs else {
            "scenario": name, "setup": setup.name, "result": INTERRUPTED, "interrupted_by": received[0],
            "energy_kwh": 0.0, "peak_kw": 0.0, "phases": [], "faults": [], "connectors": []}
        series = getattr(runs[0], "series", None) if runs else None
        if kwargs.get("report_path") and series is not None:  # the time series so far, beside the report
            title = f"{name} on {setup.name}: interrupted"
            report["files"] = await asyncio.to_thread(write_series, series.rows, kwargs["report_path"], title)
        return report, [f"interrupted by {received[0]} before the scenario ended"]
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def _quiet_cancelled(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """After the Ctrl-C, futures cancelled with the run are expected; anything else is reported as usual."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


def partial_report(run: ScenarioRun, signal_name: str) -> dict:
    """What a cut-short run saw; every field read defensively (the run may stop at any point)."""
    state = run.state
    connectors = []
    for conn in run.setup.cabinet_config.connectors:
        cid = conn.id
        session = state.sessions.get(cid) or {}
        car = run.cars.get(cid)
        try:
            final = run.rig.final_state(cid)
        except (KeyError, AttributeError):
            final = {"contactors_closed": False, "modules_on": False, "output_current_a": 0.0}
        plant = getattr(run.rig, "plants", {}).get(cid)
        rig_kwh = round(plant.energy_wh / 1000.0, 4) if plant is not None else 0.0
        connectors.append({
            "connector": cid,
            "car": {"ok": False, "reason": INTERRUPTED,
                    "soc": round(car.battery.soc_percent, 1) if car is not None else None},
            # no session record yet: the energy the rig's plant saw delivered
            "energy_kwh": session.get("energy_kwh", rig_kwh), "peak_kw": session.get("peak_kw", 0.0),
            "rig_energy_kwh": rig_kwh,
            "stop_reason": session.get("stop_reason", ""),
            # after the clean stop; the connector's state when the Ctrl-C came is kept beside it
            "final": {"state": "stopped", "state_at_interrupt": state.states.get(cid, "unknown"), **final},
        })
    return {
        "scenario": run.scenario.name, "setup": run.setup.name, "result": INTERRUPTED,
        "interrupted_by": signal_name, "duration_s": round(time.time() - state.t0, 3),
        "protocol": run.v2g.protocol,
        "energy_kwh": round(sum(c["energy_kwh"] for c in connectors), 4),
        "peak_kw": max((c["peak_kw"] for c in connectors), default=0.0),
        "phases": state.phases, "faults": state.faults, "sessions": list(state.sessions.values()),
        "controller_events": bool(run.controller is not None and run.controller.reports_events),
        "final": connectors[0]["final"] if connectors else {}, "connectors": connectors,
    }
