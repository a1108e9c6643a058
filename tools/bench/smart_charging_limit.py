"""Figure smart_charging_limit_ms: how long a site limit from the CSMS takes to reach the cars.

The rig's `site-limit` scenario on the static `nevi` cabinet (four cars at 150 kW, the controller in the rig's
process, its CSMS over TLS, security profile 2): once the output is steady the CSMS sends a 300 kW
ChargingStationMaxProfile. Per connector, the time from the CSMS sending SetChargingProfile (its record of
the frame; loopback on one host clock, so this includes the link) to the first CurrentDemandRes the car
receives whose EVSEMaximumPowerLimit is at most the connector's share (75 kW); the car asks every 50 ms, so
half of that is waiting for the car's next request. Also the role's own figure: from the CSMS sending the
request to the summed output at or below 300 kW + 2 %.

    python -m tools.bench.smart_charging_limit [--rounds N]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from tools.bench.stats import goal, summarize

SETUP = "nevi"
ROUNDS, QUICK_ROUNDS = 3, 1
SHARE_W = 75_000.0  # 300 kW over four EVSEs in use
GOAL_MS = 1000.0  # the "within one second of a change"


def _sent_at(traffic: list[dict]) -> float | None:
    for entry in traffic:
        if entry["dir"] != "out":
            continue
        try:
            frame = json.loads(entry["frame"])
        except (TypeError, ValueError):
            continue
        if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and frame[2] == "SetChargingProfile":
            return entry["t"]
    return None


async def _round() -> tuple[list[float], float | None, list[str]]:
    """One site-limit run: per connector the latency (ms), the output's follow time (s), problems."""
    from hil.ev.car import SimulatedCar
    from hil.runner import run_scenario
    from hil.setup import load_setup

    seen: list[tuple[float, Any, float]] = []  # (time.time(), the car's plant, EVSEMaximumPowerLimit W)
    original = SimulatedCar._check

    def recording(self, what, response):
        limit = getattr(response, "EVSEMaximumPowerLimit", None)
        if what == "current_demand" and limit is not None:
            seen.append((time.time(), self.plant, limit.Value * 10.0 ** limit.Multiplier))
        return original(self, what, response)

    runs: list[Any] = []
    SimulatedCar._check = recording
    try:
        report, problems = await run_scenario("site-limit", load_setup(SETUP), ocpp_profile=2, record_series=False,
                                              on_run=runs.append)
    finally:
        SimulatedCar._check = original
    sent = _sent_at(report.get("ocpp", {}).get("traffic", []))
    if sent is None:
        return [], None, problems + ["the CSMS sent no SetChargingProfile"]
    latencies = []
    for cid, plant in runs[0].rig.plants.items():
        first = next((t for t, p, w in seen if p is plant and t >= sent and w <= SHARE_W * 1.001), None)
        if first is None:
            problems.append(f"connector {cid}: no CurrentDemandRes with the new limit")
        else:
            latencies.append((first - sent) * 1000.0)
    return latencies, report["ocpp"]["smart_charging"].get("follow_s"), problems


def run_smart_charging_limit(quick: bool, rounds: int | None = None) -> dict[str, Any]:
    latencies: list[float] = []
    follows: list[float] = []
    problems: list[str] = []
    for _ in range(rounds or (QUICK_ROUNDS if quick else ROUNDS)):
        got, follow, trouble = asyncio.run(_round())
        latencies += got
        follows += [follow * 1000.0] if follow is not None else []
        problems += trouble
    return {"status": "ok" if latencies and not problems else "error", "problems": problems,
            "set_to_current_demand_res_ms": summarize(latencies), "set_to_output_ms": summarize(follows),
            "method": __doc__.split("\n\n")[1].replace("\n", " ")}


def goals(figure: dict[str, Any]) -> list[dict[str, Any]]:
    value = (figure.get("set_to_current_demand_res_ms") or {}).get("max") if figure.get("status") == "ok" else None
    return [goal("site limit (SetChargingProfile) to the new limit in CurrentDemandRes, max, nevi 4 cars", value,
                 GOAL_MS, "ms", note="; ".join(figure.get("problems", [])) or figure.get("reason", ""))]


def describe(figure: dict[str, Any]) -> list[str]:
    lines = []
    for label, key in (("SetChargingProfile -> CurrentDemandRes", "set_to_current_demand_res_ms"),
                       ("SetChargingProfile sent -> output <= limit + 2 %", "set_to_output_ms")):
        n = figure.get(key) or {}
        if n.get("n"):
            lines.append(f"  {label:<52} n={n['n']}  p50 {n['p50']:.1f}  max {n['max']:.1f} ms")
    return lines + [f"  problem: {p}" for p in figure.get("problems", [])]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.smart_charging_limit", description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    figure = run_smart_charging_limit(False, args.rounds)
    print("\n".join(describe(figure)))
    print(json.dumps(goals(figure), indent=1))


if __name__ == "__main__":
    main()
