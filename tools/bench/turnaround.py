"""Figure 1, current_demand_turnaround_ms: how fast the controller's SECC answers CurrentDemandReq while all four
connectors of the `nevi` setup charge.

Process layout: `charger-controller` as its own process serving V2G (DIN) on four veth links; the rig, its
simulators and the four cars in this worker process; CAN over udp_multicast, all inside a private network
namespace; the controller linked to the rig's CSMS over TLS (security profile 2). The cars' batteries are
enlarged so that each connector charges long enough for the requested number of exchanges. Each turnaround is
taken by the SECC itself: from the request's last byte read on the V2GTP socket to the answer's bytes handed to
the socket (it reports them with every closed session); the car's round trip, which adds both processes'
scheduling and the veth, is given next to it.

    python -m tools.bench.turnaround --can udp_multicast:GROUP [--exchanges N]   (inside a private namespace)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

from tools.bench import worker
from tools.bench.footprint import process_memory_kb
from tools.bench.stats import summarize

SETUP = "nevi"
EXCHANGES, QUICK_EXCHANGES = 2400, 200
CONNECTORS = 4
BASE_CAPACITY_KWH = 0.8          # the nevi car: about 150 CurrentDemand exchanges per session at this size
EXCHANGES_PER_BASE_CAPACITY = 140


def _samples(sessions: list[dict], request: str) -> list[float]:
    return [us / 1000.0 for session in sessions for us in session.get("answer_us", {}).get(request, [])]


async def _watch_memory(run, out: dict[str, int]) -> None:
    """The controller process's peak resident memory (VmHWM) while it serves V2G on every connector."""
    while getattr(run.controller, "proc", None) is None:
        await asyncio.sleep(0.05)
    proc = run.controller.proc
    while proc.returncode is None:
        try:
            out["peak_kb"] = max(out.get("peak_kb", 0), process_memory_kb(proc.pid).get("VmHWM", 0))
        except OSError:  # the process just ended
            return
        await asyncio.sleep(0.2)


async def measure(can: str, exchanges: int) -> dict[str, Any]:
    from hil.csms.rig_role import with_ocpp
    from hil.runner import ScenarioRun
    from hil.scenarios import SCENARIOS
    from hil.setup import load_setup
    from tools.bench.cabinet import OCPP_PROFILE, ocpp_link_summary

    setup = load_setup(SETUP)
    per_connector = exchanges / CONNECTORS
    capacity = BASE_CAPACITY_KWH * max(1.0, per_connector / EXCHANGES_PER_BASE_CAPACITY) * 1.1
    setup = replace(setup, car=replace(setup.car, capacity_kwh=round(capacity, 2)))
    run = ScenarioRun(with_ocpp(SCENARIOS["dc-session"], OCPP_PROFILE), setup, separate_process=True,
                      can_override=tuple(can.split(":", 1)), protocol="din", link_mode="veth")
    memory: dict[str, int] = {}
    watcher = asyncio.create_task(_watch_memory(run, memory))
    try:
        report = await run.run()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    sessions = run.state.v2g_sessions
    secc = _samples(sessions, "CurrentDemandReq")
    car = [e["round_trip_s"] * 1000.0 for link in run.v2g.car_links for e in link.exchanges
           if e["request"] == "CurrentDemandReq"]
    per_connector_counts: dict[int, int] = {}
    for session in sessions:  # every answer counts; the samples are a session's newest 1,000
        count = session.get("answer_times", {}).get("CurrentDemandReq", {}).get("count", 0)
        per_connector_counts[session["connector"]] = per_connector_counts.get(session["connector"], 0) + count
    answered = sum(per_connector_counts.values())
    charged = all(c["car"]["ok"] for c in report["connectors"])
    status = "ok" if charged and answered >= exchanges else "error"
    return {
        "status": status,
        **({} if status == "ok" else {"reason": f"{answered} exchanges answered (wanted {exchanges}); "
                                                f"cars ok: {charged}; result {report['result']}"}),
        "secc_turnaround_ms": summarize(secc),
        "car_round_trip_ms": summarize(car),
        "exchanges_per_connector": per_connector_counts,
        "exchanges_answered": answered,  # the percentiles cover all of them while a session has <= 1,000
        "car_capacity_kwh": setup.car.capacity_kwh,
        "peak_kw": report["peak_kw"],
        "controller_peak_rss_mb": round(memory["peak_kb"] / 1024.0, 1) if memory else None,  # V2G on all 4
        "ocpp": ocpp_link_summary(run.csms),
        "other_requests_ms": {name: values for name, values in report["v2g"]["answer_times"].items()
                              if name != "CurrentDemandReq"},
    }


def run_turnaround(quick: bool = False) -> dict[str, Any]:
    """Figure 1 for the harness: the worker in a private namespace (udp_multicast CAN, veth V2G links)."""
    exchanges = QUICK_EXCHANGES if quick else EXCHANGES
    method = ("DIN over 4 veth links (real SLAC frames, IPv6 SDP, TCP over link-local addresses); controller in its "
              "own process, rig and 4 cars in another, CAN over udp_multicast in a private network namespace; all 4 "
              f"`{SETUP}` connectors charging; >= {exchanges} CurrentDemand exchanges; turnaround = request's last "
              "byte read on the V2GTP socket to the answer written (timed in the SECC, monotonic clock); nearest-rank "
              "percentiles over every exchange of every connector; OCPP connected to the rig's CSMS over TLS "
              "(security profile 2) throughout")
    try:
        result = worker.run_worker("tools.bench.turnaround", ["--can", worker.MULTICAST_CAN, "--exchanges",
                                                             str(exchanges)], timeout_s=240.0)
    except worker.NetnsUnavailable as exc:
        return {"status": "skipped", "reason": f"needs a private network namespace and veth links: {exc}",
                "method": method}
    except worker.WorkerFailed as exc:
        return {"status": "error", "reason": str(exc), "method": method}
    return {"method": method, "process_layout": "controller process + rig process, 4 veth V2G links", **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--can", required=True)
    parser.add_argument("--exchanges", type=int, default=EXCHANGES)
    args = parser.parse_args()
    worker.multicast_can(parser, args.can, "the controller runs as a separate process")
    worker.require_loopback_only()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(measure(args.can, args.exchanges))))


if __name__ == "__main__":
    main()
