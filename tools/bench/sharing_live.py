"""Figure power_sharing_live: power sharing through live sessions on the rig (issue #18), not the model.

- fourth_car_s: the fourth-car-arrives scenario on nevi-shared (three cars of the 800 V and 400 V classes
  charging, a fourth 800 V car plugs in after 4 s): from its plug-in until every port with a car has its NEVI
  floor available (150 kW, or all its car and cable take), read from the controller's port limits every 50 ms.
- corridor: corridor-hour (tools/bench/corridor_hour.py), the same stream of cars on the shared and the static
  cabinet: mean session durations and their ratio.
Both are skipped with --quick.
The controller runs in the rig's process, cars over V2G (DIN), without OCPP.
"""
from __future__ import annotations

import asyncio
from typing import Any

from tools.bench.stats import goal

FOURTH_CAR_GOAL_S = 2.0
CORRIDOR_RATIO_GOAL = 0.75  # the issue: 25 % shorter mean session or better


def fourth_car() -> dict[str, Any]:
    from hil.runner import run_scenario
    from hil.setup import load_setup
    report, problems = asyncio.run(run_scenario("fourth-car-arrives", load_setup("nevi-shared")))
    sharing = report.get("sharing") or {}
    return {"seconds": sharing.get("fourth_car_to_floor_s"), "problems": problems,
            "switched_under_load": (report.get("matrix") or {}).get("matrix_switched_under_load"),
            "cabinet_peak_kw": sharing.get("cabinet_peak_kw"), "over_site_limit_s": sharing.get("over_site_limit_s")}


def run_sharing_live(quick: bool) -> dict[str, Any]:
    if quick:  # whole sessions on the rig, minutes of them: no smoke run
        return {"status": "skipped", "reason": "--quick: the live sharing figures run whole sessions on the rig"}
    figure: dict[str, Any] = {"status": "ok", "fourth_car_s": fourth_car(),
                              "method": " ".join(__doc__.split("\n\n")[1].split())}
    from tools.bench.corridor_hour import corridor_hour
    result = asyncio.run(corridor_hour())
    figure["corridor"] = {"mean_session_ratio": result["mean_session_ratio"],
                          **{k: {kk: vv for kk, vv in result[k].items() if kk != "per_session"}
                             for k in ("shared", "static")}}
    return figure


def goals(figure: dict[str, Any]) -> list[dict[str, Any]]:
    ok = figure.get("status") == "ok"
    fourth = (figure.get("fourth_car_s") or {}) if ok else {}
    corridor = figure.get("corridor") or {}
    note = figure.get("reason", "rig, live sessions")
    return [goal("power sharing live: fourth car plugged in to its floor on every port", fourth.get("seconds"),
                 FOURTH_CAR_GOAL_S, "s", note=note),
            goal("power sharing live: corridor-hour mean session, shared / static", corridor.get("mean_session_ratio"),
                 CORRIDOR_RATIO_GOAL, "", note=note)]


def describe(figure: dict[str, Any]) -> list[str]:
    if figure.get("status") != "ok":
        return []
    f = figure["fourth_car_s"]
    lines = [f"  fourth car: floor on every port after {f['seconds']} s; cabinet peak {f['cabinet_peak_kw']} kW; "
             f"{f['switched_under_load']} contacts switched under load"]
    c = figure.get("corridor")
    if c:
        for layout in ("shared", "static"):
            r = c[layout]
            lines.append(f"  corridor-hour {layout}: {r['sessions']} sessions, mean {r['mean_session_s']} s, "
                         f"{r['energy_kwh']} kWh")
        lines.append(f"  corridor-hour mean session shared / static: {c['mean_session_ratio']}")
    return lines
