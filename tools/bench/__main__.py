"""make bench: the figures a charger vendor asks about, printed as a table and saved as JSON.

    python -m tools.bench [--out PATH] [--only NAME[,NAME...]] [--quick] [--minutes N]

Figures: current_demand_turnaround_ms, exi_us, fault_reaction_ms, can_ingest, footprint, spurious_trips,
time_to_safe_ms, allocator_decision_us, power_sharing_s, power_sharing_live (fourth car and corridor-hour on the
rig), ocpp (trigger to TransactionEvent p50/p99, RSS with
OCPP over TLS, replay of 1,000 queued events after a reconnect), smart_charging_limit_ms (a site limit from the
CSMS to the new limit in CurrentDemandRes), tls_handshake_ms (ISO 15118-2 TLS between
the rig's car and the SECC), certificate_installation_ms (ISO 15118-2 CertificateInstallation through OCPP
Get15118EVCertificate to the rig's CSMS), pnc_answer_ms (Plug & Charge PaymentDetails +
Authorization with the chain and signature checks) (--minutes: how long spurious_trips charges
under stress-ng, default 2).
Each figure states how it was measured; each goal shows value / limit and, when missed, by how much.
Every cabinet the figures run (the EXI codec figure runs none) is linked to the rig's CSMS simulator over
OCPP 2.0.1 with TLS (security profile 2), as the goals are set; each figure's "ocpp" entry says what crossed
the link.
--quick runs every figure with tiny counts (a smoke run, not a measurement).
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.bench import (allocator_time, can_ingest, certificate_installation, fault_reaction, footprint, load_trips, ocpp_figures,
                         sharing_live, sharing_model, smart_charging_limit, time_to_safe, tls_handshake,
                         turnaround)
from tools.bench import pnc_answer
from tools.bench.cabinet import OCPP_PROFILE
from tools.bench.stats import format_goals, goal

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "bench" / "results.json"
# The product's goals (developers' guide, "What matters now"), with OCPP over TLS and all four ports busy.
FAULT_GOAL_MS = 2.0  # p99
FAULT_MAX_GOAL_MS = 5.0  # the worst single reaction
TURNAROUND_GOAL_MS = 1.0  # SECC answer p99
CAR_ROUND_TRIP_GOAL_MS = 5.0  # the car's round trip p99
EXI_GOAL_US = 10.0


def _exi(quick: bool) -> dict[str, Any]:
    try:
        from tools.bench.exi import run_exi_bench
    except ImportError as exc:
        return {"status": "not available", "reason": f"tools.bench.exi cannot be imported: {exc}"}
    result = run_exi_bench()
    return {"status": "error" if "error" in result else "ok", **result}


FIGURES: dict[str, Callable[[bool], dict[str, Any]]] = {
    "current_demand_turnaround_ms": turnaround.run_turnaround,
    "exi_us": _exi,
    "fault_reaction_ms": fault_reaction.run_fault_reaction,
    "can_ingest": can_ingest.run_can_ingest,
    "footprint": footprint.run_footprint,
    "spurious_trips": load_trips.run_load_trips,
    "time_to_safe_ms": time_to_safe.run_time_to_safe,
    "allocator_decision_us": allocator_time.run_allocator_time,
    "power_sharing_s": sharing_model.run_sharing_times,
    "power_sharing_live": sharing_live.run_sharing_live,
    "ocpp": ocpp_figures.run_ocpp,
    "smart_charging_limit_ms": smart_charging_limit.run_smart_charging_limit,
    "tls_handshake_ms": tls_handshake.run_tls_handshake,
    "certificate_installation_ms": certificate_installation.run_certificate_installation,
    "pnc_answer_ms": pnc_answer.run_pnc_answer,
}


def collect_goals(figures: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    turn = figures["current_demand_turnaround_ms"]
    rows = [goal("V2G CurrentDemand turnaround p99, 4 connectors charging",
                 (turn.get("secc_turnaround_ms") or {}).get("p99") if turn.get("status") == "ok" else None,
                 TURNAROUND_GOAL_MS, "ms", note="" if turn.get("status") == "ok" else turn.get("reason", ""))]
    rows.append(goal("V2G CurrentDemand car round trip p99, 4 connectors charging",
                     (turn.get("car_round_trip_ms") or {}).get("p99") if turn.get("status") == "ok" else None,
                     CAR_ROUND_TRIP_GOAL_MS, "ms"))
    headline = figures["exi_us"].get("headline") or {}
    rows.append(goal("EXI CurrentDemandReq decode + Res encode", headline.get("us"), EXI_GOAL_US, "us"))
    fault = figures["fault_reaction_ms"]
    for layout, variant in (fault.get("variants") or {"in_process": {}, "separate_process": {}}).items():
        for kind in fault_reaction.KINDS:
            summary = (variant.get("kinds") or {}).get(kind, {}).get("reaction_ms", {})
            note = "" if variant.get("status") == "ok" else variant.get("reason", variant.get("status", "not run"))
            rows.append(goal(f"fault reaction p99, {kind}, {layout.replace('_', ' ')}", summary.get("p99"),
                             FAULT_GOAL_MS, "ms", note=note))
            rows.append(goal(f"fault reaction max, {kind}, {layout.replace('_', ' ')}", summary.get("max"),
                             FAULT_MAX_GOAL_MS, "ms", note=note))
    rows += can_ingest.goals(figures["can_ingest"])
    rows += footprint.goals(figures["footprint"])
    trips = figures.get("spurious_trips", {})
    rows.append(goal(f"spurious I/O board trips, nevi charging under {trips.get('stress', 'stress-ng')}",
                     trips.get("spurious_total") if trips.get("status") == "ok" else None, 0, "trips",
                     note=trips.get("reason", "")))
    rows += time_to_safe.goals(figures.get("time_to_safe_ms", {}))
    rows += allocator_time.goals(figures.get("allocator_decision_us", {}))
    rows += sharing_model.goals(figures.get("power_sharing_s", {}))
    rows += sharing_live.goals(figures.get("power_sharing_live", {}))
    rows += ocpp_figures.goals(figures.get("ocpp", {}))
    rows += smart_charging_limit.goals(figures.get("smart_charging_limit_ms", {}))
    rows += tls_handshake.goals(figures.get("tls_handshake_ms", {}))
    rows += certificate_installation.goals(figures.get("certificate_installation_ms", {}))
    rows += pnc_answer.goals(figures.get("pnc_answer_ms", {}))
    return rows


def _describe_faults(figure: dict[str, Any]) -> list[str]:
    lines = []
    for layout, variant in figure.get("variants", {}).items():
        lines.append(f"  {layout}: {variant.get('process_layout') or variant.get('reason', '')}")
        for kind, numbers in (variant.get("kinds") or {}).items():
            r, m, c = numbers["reaction_ms"], numbers["modules_off_ms"], numbers["contactors_open_ms"]
            if r.get("n"):
                lines.append(f"    {kind:<18} n={r['n']:<3} p50 {r['p50']:.2f}  p99 {r['p99']:.2f}  max "
                             f"{r['max']:.2f} ms  (modules off p99 {m['p99']:.2f}, contactors open p99 "
                             f"{c['p99']:.2f}; {len(numbers['missing'])} missing; bus "
                             f"{numbers['bus_frames_per_s_charging']} frames/s while charging)")
            else:
                lines.append(f"    {kind:<18} no sample ({len(numbers['missing'])} missing)")
            for reason in numbers.get("failed_rounds", []):
                lines.append(f"      a round was replaced: {reason}")
        lag = variant.get("loop_lag_ms")
        if lag and lag.get("n"):
            lines.append(f"    loop lag (2 ms timer) p50 {lag['p50']:.2f}  p99 {lag['p99']:.2f}  max "
                         f"{lag['max']:.2f} ms over {lag['n']} wake-ups")
    return lines


def _ocpp_links(figure: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The OCPP link summaries a figure holds: its own, or per fault-reaction layout its last round's."""
    links = [("", figure.get("ocpp") or {})]
    for layout, variant in (figure.get("variants") or {}).items():
        last_kind = list((variant.get("kinds") or {}).values())[-1:]
        links += [(f" ({layout.replace('_', ' ')}, last round)", kind.get("ocpp") or {}) for kind in last_kind]
    return [(where, link) for where, link in links if link.get("enabled")]


def describe(name: str, figure: dict[str, Any]) -> list[str]:
    """The lines printed under the goal table for one figure."""
    lines = [f"{name}: {figure.get('status')}" + (f" - {figure['reason']}" if figure.get("reason") else "")]
    if name == "exi_us" and figure.get("messages"):
        from tools.bench.exi import format_table
        lines += ["  " + line for line in format_table(figure).splitlines()]
    elif name == "fault_reaction_ms":
        lines += _describe_faults(figure)
    elif name == "current_demand_turnaround_ms" and figure.get("secc_turnaround_ms"):
        for label, key in (("SECC, socket in to socket out", "secc_turnaround_ms"),
                           ("car's round trip", "car_round_trip_ms")):
            n = figure[key]
            lines.append(f"  {label:<30} n={n['n']}  p50 {n['p50']:.3f}  p99 {n['p99']:.3f}  max {n['max']:.3f} ms")
        lines.append(f"  exchanges per connector {figure['exchanges_per_connector']}; peak {figure['peak_kw']} kW; "
                     f"controller peak RSS with V2G on 4 connectors {figure.get('controller_peak_rss_mb')} MB")
    elif name == "can_ingest" and figure.get("steps"):
        lines.append(f"  {'target/s':>9} {'sent/s':>8} {'lost':>6} {'behind':>7} {'cpu %':>6}  held")
        for s in figure["steps"]:
            lines.append(f"  {s['target_fps']:>9.0f} {s['achieved_fps']:>8} {s['sent'] - s['received']:>6} "
                         f"{s['lag_frames']:>7} {s['cpu_percent']:>6.1f}  {'yes' if s['held'] else 'no: ' + s['why_not']}")
        lines.append(f"  highest rate held: {figure.get('max_sustained_fps')} frames/s")
        profile = figure.get("profile_at_4000_fps")
        if profile:
            lines.append("  profile at 4000 frames/s (cProfile, own time): " + ", ".join(
                f"{layer} {share} %" for layer, share in profile["by_layer_percent"].items()))
    elif name == "spurious_trips":
        lines += load_trips.describe(figure)
    elif name == "time_to_safe_ms":
        lines += time_to_safe.describe(figure)
    elif name == "allocator_decision_us":
        lines += allocator_time.describe(figure)
    elif name == "power_sharing_s":
        lines += sharing_model.describe(figure)
    elif name == "power_sharing_live":
        lines += sharing_live.describe(figure)
    elif name == "ocpp":
        lines += ocpp_figures.describe(figure)
    elif name == "smart_charging_limit_ms":
        lines += smart_charging_limit.describe(figure)
    elif name == "tls_handshake_ms":
        lines += tls_handshake.describe(figure)
    elif name == "certificate_installation_ms":
        lines += certificate_installation.describe(figure)
    elif name == "pnc_answer_ms":
        lines += pnc_answer.describe(figure)
    elif name == "footprint" and figure.get("status") == "ok":
        lines.append(f"  start-up {figure['startup_s']:.3f} s (app started after {figure['started_event_s']} s); RSS idle {figure['idle_rss_mb']} MB, charging "
                     f"{figure['charging_rss_mb']} MB, peak {figure['peak_rss_mb']} MB; CPU idle "
                     f"{figure['idle_cpu_percent']} %, 4 connectors charging {figure['charging_cpu_percent']} %")
        profile = figure.get("import_profile")
        if profile:
            lines.append(f"  import profile: bare python {profile['python_startup_ms']} ms and "
                         f"{profile['python_rss_mb']} MB; after the controller's imports {profile['rss_after_imports_mb']}"
                         " MB; slowest imports " + ", ".join(f"{i['module']} {i['cumulative_ms']} ms"
                                                             for i in profile["slowest_imports"]))
    for where, link in _ocpp_links(figure):
        lines.append(f"  OCPP{where}: {link['transport']} (security profile {link['security_profile']}), "
                     f"{link['frames']} frames, {link['transaction_events']} TransactionEvents, "
                     f"{link['schema_violations']} schema violations")
    if figure.get("method") and name != "exi_us":  # the EXI table ends with its own method line
        lines.append(f"  method: {figure['method']}")
    return lines


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def run_figures(selected: list[str], quick: bool) -> dict[str, Any]:
    """Every figure (the unselected ones marked "not run"), the machine, and the goal rows."""
    started = time.monotonic()
    results: dict[str, Any] = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                               "quick": quick, "machine": _machine(), "figures": {},
                               "ocpp": {"security_profile": OCPP_PROFILE, "transport": "wss", "csms": "the rig's "
                                        "simulator (hil/csms), validating every frame against the 2.0.1 schemas"}}
    for name, run in FIGURES.items():
        if name not in selected:
            results["figures"][name] = {"status": "not run", "reason": "not selected with --only"}
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            results["figures"][name] = run(quick)
        except Exception as exc:  # one broken figure must not lose the others
            results["figures"][name] = {"status": "error", "reason": f"{exc.__class__.__name__}: {exc}"}
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.monotonic() - started, 1)
    results["goals"] = collect_goals(results["figures"])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON results (default {DEFAULT_OUT})")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only these figures (repeatable or comma-separated); the others are 'not run'")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the harness, measures nothing")
    parser.add_argument("--minutes", type=float, default=load_trips.MAKE_BENCH_MINUTES,
                        help="spurious_trips: minutes of charging under stress-ng (default %(default)s)")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 600:
        parser.error("--minutes must be above 0 and at most 600")
    FIGURES["spurious_trips"] = functools.partial(load_trips.run_load_trips, minutes=args.minutes)
    selected = [name.strip() for item in args.only for name in item.split(",") if name.strip()] or list(FIGURES)
    unknown = [name for name in selected if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)} (known: {', '.join(FIGURES)})")
    try:  # a path that cannot be written is found now, not after minutes of measuring
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.touch()
    except OSError as exc:
        parser.error(f"cannot write --out {args.out}: {exc.strerror or exc}")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)  # the in-process controller's fault warnings
    results = run_figures(selected, args.quick)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(format_goals(results["goals"]))
    print()
    for name, figure in results["figures"].items():
        print("\n".join(describe(name, figure)))
    print(f"\nOCPP: every cabinet linked to the rig's CSMS over TLS (security profile {OCPP_PROFILE})")
    print(f"{results['seconds']} s; load average {results['machine']['load_average_at_start']} at start, "
          f"{results['machine']['load_average_at_end']} at end; results in {args.out}")
    return 1 if any(f.get("status") == "error" for f in results["figures"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
