"""Figure: OCPP 2.0.1 on the `nevi` cabinet, seen at the rig's CSMS over TLS (security profile 2).

Process layout as the footprint figure: `charger-controller` as its own process, the rig, its CSMS simulator
and the cars in a bench worker process, udp_multicast CAN inside a private network namespace. Three numbers:

- trigger to TransactionEvent: short sessions back to back on all four connectors; per session, from the
  trigger to the CSMS's receipt of the event it causes (time.time() in both processes, one host clock):
  the car's plug-in (CP B at the rig) -> Started, the controller's phase change to charging (its event's own
  time) -> Updated chargingState=Charging, the car's unplug (CP A at the rig) -> Ended;
- the controller's peak RSS (VmHWM) over those sessions, OCPP over TLS on all four connectors;
- replay: the controller starts with N TransactionEvents (4 transactions, offline=true) queued in its store
  and the CSMS away; the CSMS comes back and the clock runs from its receipt of the BootNotification to its
  answer to the last queued event. Every event must arrive once, in order, schema-valid.

    python -m tools.bench.ocpp_figures --can udp_multicast:GROUP [--sessions N] [--queued N]   (in a namespace)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.bench import worker
from tools.bench.stats import goal, summarize

SETUP = "nevi"
SESSIONS, QUICK_SESSIONS = 20, 2  # per connector
QUEUED, QUICK_QUEUED = 1000, 100
TRANSACTIONS = 4  # the queued events' transactions, one per EVSE
GOAL_RSS_MB = 60.0  # the footprint goal (developers' guide), here with OCPP over TLS
SESSION_TIMEOUT_S = 60.0
ENDED_WAIT_S = 10.0
AWAY_S = 0.5  # the CSMS stays away this long after the controller is up: it tries and fails
REPLAY_TIMEOUT_S = 120.0
TRIGGERS = ("plug_in_to_started", "charging_to_updated", "unplug_to_ended")


# ---- what the CSMS received -------------------------------------------------------------------------------
def _frames(traffic: list[dict], direction: str) -> list[tuple[float, list]]:
    found = []
    for entry in traffic:
        if entry["dir"] != direction:
            continue
        try:
            frame = json.loads(entry["frame"])
        except (TypeError, ValueError):
            continue
        if isinstance(frame, list) and len(frame) >= 3:
            found.append((entry["t"], frame))
    return found


def transaction_events(traffic: list[dict]) -> list[tuple[float, dict]]:
    """(receipt time, payload) of every TransactionEvent CALL the CSMS received, in order."""
    return [(t, f[3]) for t, f in _frames(traffic, "in") if f[0] == 2 and f[2] == "TransactionEvent"]


def trigger_latencies(traffic: list[dict], sessions: list[dict], phases: list[tuple[int, str, float]]
                      ) -> dict[str, list[float]]:
    """Per session (connector, plugged_t, unplugged_t): the three trigger -> receipt times in ms."""
    events = transaction_events(traffic)
    evse_of = {p["transactionInfo"]["transactionId"]: p["evse"]["id"] for _, p in events if p["eventType"] == "Started"}
    out: dict[str, list[float]] = {name: [] for name in TRIGGERS}
    for session in sessions:
        cid, plugged, unplugged = session["connector"], session["plugged_t"], session["unplugged_t"]
        started = next(((t, p) for t, p in events if p["eventType"] == "Started" and p["evse"]["id"] == cid
                        and t >= plugged), None)
        if started is None:
            continue
        out["plug_in_to_started"].append((started[0] - plugged) * 1000.0)
        tx = started[1]["transactionInfo"]["transactionId"]
        mine = [(t, p) for t, p in events if p["transactionInfo"]["transactionId"] == tx and evse_of.get(tx) == cid]
        charging_t = next((pt for c, state, pt in phases if c == cid and state == "charging"
                           and plugged <= pt <= (unplugged or float("inf"))), None)
        updated = next((t for t, p in mine if p["transactionInfo"].get("chargingState") == "Charging"), None)
        if charging_t is not None and updated is not None:
            out["charging_to_updated"].append((updated - charging_t) * 1000.0)
        ended = next((t for t, p in mine if p["eventType"] == "Ended"), None)
        if unplugged is not None and ended is not None:
            out["unplug_to_ended"].append((ended - unplugged) * 1000.0)
    return out


def queued_to_received_ms(traffic: list[dict]) -> list[float]:
    """Per TransactionEvent: its own timestamp (the controller's clock as it queued it, ms resolution) to the
    CSMS's receipt: the queue and the link's part of a trigger's time, without the controller's detection."""
    out = []
    for t, payload in transaction_events(traffic):
        if payload.get("offline"):
            continue  # made while no link was up: its wait is the outage's
        try:
            made = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00")).timestamp()
        except (KeyError, ValueError):
            continue
        out.append((t - made) * 1000.0)
    return out


# ---- trigger to TransactionEvent, and RSS ------------------------------------------------------------------
async def _sessions(run, cid: int, count: int, sessions: list[dict]) -> None:
    from hil.ev.car import CarPlan
    from tools.bench.cabinet import wait_until

    car_cfg = run.setup.car
    plan = CarPlan(target_soc=car_cfg.target_soc, request_period_s=car_cfg.request_period_s,
                   stop_after_charging_s=0.3)
    for _ in range(count):
        await wait_until(lambda: run.state.states.get(cid) == "available", SESSION_TIMEOUT_S,
                         f"connector {cid} available")
        outcome = await run.plug_car(cid, plan)
        car = run.cars[cid]
        if run.rig.plants[cid].ev_cp_state != "A":
            car.unplug()
        times = dict(reversed(car.phases))  # the first time of each phase
        sessions.append({"connector": cid, "ok": outcome.ok, "reason": outcome.reason,
                         "plugged_t": times.get("plugged"), "unplugged_t": times.get("unplugged")})


def native_packages(maps: str) -> list[str]:
    """The installed packages whose native extensions a process has mapped (/proc/PID/maps text): where its
    memory goes beyond Python's heap (cryptography alone is about 8 MB; a profile-2 link needs none of it)."""
    found = set()
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[5] if len(line.split(maxsplit=5)) == 6 else ""
        if "/site-packages/" in path and path.endswith(".so"):
            found.add(path.split("/site-packages/", 1)[1].split("/", 1)[0].split(".", 1)[0])
    return sorted(found)


def _native_packages_of(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            return native_packages(maps.read())
    except OSError:  # the process has ended
        return None


async def _peak_rss_kb(pid: int, out: dict[str, int]) -> None:
    from tools.bench.footprint import process_memory_kb
    while True:
        try:
            out["peak_kb"] = max(out.get("peak_kb", 0), process_memory_kb(pid).get("VmHWM", 0))
        except OSError:  # the process just ended
            return
        await asyncio.sleep(0.2)


async def measure_latency(can_override: tuple[str, str], per_connector: int) -> dict[str, Any]:
    from controller.formats.events import PhaseChanged
    from tools.bench.cabinet import BenchCabinet

    run = BenchCabinet(SETUP, "separate_process", can_override)
    phases: list[tuple[int, str, float]] = []
    forward = run.state.on_event

    def tap(event) -> None:  # the controller's own time of each phase change
        if isinstance(event, PhaseChanged):
            phases.append((event.connector, event.state, float(event.t)))
        forward(event)
    run.state.on_event = tap
    sessions: list[dict] = []
    memory: dict[str, int] = {}
    try:
        await run.start()
        watcher = asyncio.create_task(_peak_rss_kb(run.pid, memory))
        try:
            await asyncio.gather(*(_sessions(run, cid, per_connector, sessions) for cid in run.connector_ids))
            sim = run.csms.csms
            try:  # an Ended that never comes shows as a missing sample (n below the sessions)
                await sim.wait_for(lambda: sum(p["eventType"] == "Ended" for p in sim.calls("TransactionEvent"))
                                   >= len(sessions), ENDED_WAIT_S)
            except TimeoutError:
                pass
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        traffic = list(run.csms.csms.traffic)
        ocpp = run.ocpp_link()
        native = _native_packages_of(run.pid)
    finally:
        await run.close()
    latencies = trigger_latencies(traffic, sessions, phases)
    every = [ms for values in latencies.values() for ms in values]
    return {"sessions": len(sessions), "sessions_ok": sum(s["ok"] for s in sessions),
            "failed_sessions": [s["reason"] for s in sessions if not s["ok"]][:5],
            "trigger_to_transaction_event_ms": {name: summarize(values, 2) for name, values in latencies.items()},
            "trigger_to_transaction_event_all_ms": summarize(every, 2),
            "queued_to_received_ms": summarize(queued_to_received_ms(traffic), 2),
            "controller_peak_rss_mb": round(memory["peak_kb"] / 1024.0, 1) if memory else None,
            "controller_native_packages": native, "ocpp": ocpp}


# ---- replay of queued events after a reconnect -------------------------------------------------------------
def queued_events(count: int, now: float) -> list[dict]:
    """`count` TransactionEvents of TRANSACTIONS transactions as the controller queues them while offline:
    Started, MeterValuePeriodic updates, Ended; seqNo without gaps, offline=true, one second apart."""
    from controller.ocpp.transactions import Transaction, meter_value

    payloads = []
    per_tx = [count // TRANSACTIONS + (1 if i < count % TRANSACTIONS else 0) for i in range(TRANSACTIONS)]
    for evse, n in enumerate(per_tx, start=1):
        tx = Transaction(evse)
        t0 = now - n - 10.0
        for i in range(n):
            t = t0 + i
            kind = "Started" if i == 0 else "Ended" if i == n - 1 else "Updated"
            trigger = {"Started": "CablePluggedIn", "Ended": "EVDeparted"}.get(kind, "MeterValuePeriodic")
            tx.charging_state = "Charging" if kind == "Updated" else "EVConnected"
            meter = meter_value(t, {"Started": "Transaction.Begin", "Ended": "Transaction.End"}.get(
                kind, "Sample.Periodic"), energy_wh=100.0 * i, power_w=150e3, current_a=300.0, voltage_v=500.0,
                soc=min(99.0, 20.0 + i * 0.1))
            payload = tx.event(kind, trigger, t, meter=meter, stopped="StoppedByEV" if kind == "Ended" else None)
            payload["offline"] = True
            payloads.append(payload)
    return payloads


def fill_store(path: Path, count: int) -> None:
    """A controller store whose OCPP queue holds `count` TransactionEvents, written by the store's own code."""
    from controller.store.ocpp_queue import OcppQueue
    from controller.store.store import Store

    store = Store(path)
    store.open()
    store.close()
    queue = OcppQueue(path)
    try:
        for payload in queued_events(count, time.time()):
            queue.append("TransactionEvent", payload)
    finally:
        queue.close()


async def measure_replay(can_override: tuple[str, str], count: int) -> dict[str, Any]:
    from hil.csms.rig_role import judge_ocpp, with_ocpp
    from hil.runner import ScenarioRun
    from hil.scenarios import SCENARIOS
    from hil.setup import load_setup
    from tools.bench.cabinet import OCPP_PROFILE, START_TIMEOUT_S, ocpp_link_summary

    folder = Path(tempfile.mkdtemp(prefix="bench-ocpp-replay-"))
    store_path = folder / "store.sqlite"

    async def queue_and_go_away(run: ScenarioRun) -> list[str]:
        fill_store(store_path, count)
        await run.csms.csms.stop()  # the controller starts with its queue and no CSMS
        return [f'store.path="{store_path}"']

    run = ScenarioRun(with_ocpp(SCENARIOS["dc-session"], OCPP_PROFILE), load_setup(SETUP), separate_process=True,
                      can_override=can_override, start_timeout_s=START_TIMEOUT_S, record_series=False,
                      before_controller=queue_and_go_away)
    try:
        await run.start()
        await asyncio.sleep(AWAY_S)
        sim = run.csms.csms
        back_t = time.time()
        await sim.start()
        answered = AnsweredEvents(sim.traffic)
        await sim.wait_for(lambda: answered.count() >= count, REPLAY_TIMEOUT_S)
        traffic = list(sim.traffic)
        problems = judge_ocpp(run.csms.report(), expect_offline=True)
        ocpp = ocpp_link_summary(run.csms)
    finally:
        await run.stop()
    boot_t = next(t for t, f in _frames(traffic, "in") if f[0] == 2 and f[2] == "BootNotification")
    ids = [f[1] for _, f in _frames(traffic, "in") if f[0] == 2 and f[2] == "TransactionEvent"]
    answers = {f[1]: t for t, f in _frames(traffic, "out") if f[0] == 3}
    last_answer_t = answers[ids[count - 1]]
    received = len(ids)
    return {"queued": count, "received": received, "duplicates": received - len(set(ids)),
            "replay_s": round(last_answer_t - boot_t, 3),
            "events_per_s": round(count / (last_answer_t - boot_t), 1),
            "reconnect_s": round(boot_t - back_t, 3),  # the station's back-off until it tried again
            "problems": problems[:5], "ocpp": ocpp}


class AnsweredEvents:
    """How many TransactionEvents the CSMS has answered, reading only the frames recorded since the last count:
    the CSMS shares this process's loop, and parsing all its traffic at every frame would slow it down
    quadratically (1,000 events: 45 s instead of about 8)."""

    def __init__(self, traffic: list[dict]):
        self._traffic = traffic
        self._read = 0
        self._asked: set[str] = set()
        self._answered = 0

    def count(self) -> int:
        new, self._read = self._traffic[self._read:], len(self._traffic)
        for _, frame in _frames(new, "in"):
            if frame[0] == 2 and frame[2] == "TransactionEvent":
                self._asked.add(frame[1])
        for _, frame in _frames(new, "out"):
            if frame[0] == 3 and frame[1] in self._asked:
                self._answered += 1
        return self._answered


# ---- the harness --------------------------------------------------------------------------------------------
async def measure(can_override: tuple[str, str], sessions: int, queued: int) -> dict[str, Any]:
    latency = await measure_latency(can_override, sessions)
    replay = await measure_replay(can_override, queued)
    ok = latency["sessions_ok"] == latency["sessions"] and not replay["problems"] and replay["duplicates"] == 0
    return {"status": "ok" if ok else "error",
            **({} if ok else {"reason": "; ".join(latency["failed_sessions"] + replay["problems"])[:400]
                              or "a session failed"}),
            **latency, "replay": replay}


def run_ocpp(quick: bool = False) -> dict[str, Any]:
    """The figure for `make bench`: the worker in a private namespace."""
    sessions, queued = (QUICK_SESSIONS, QUICK_QUEUED) if quick else (SESSIONS, QUEUED)
    method = (f"`charger-controller` as its own process on the `{SETUP}` cabinet, rig, 4 cars and the rig's CSMS "
              "(OCPP 2.0.1 over TLS, security profile 2, every frame schema-checked) in a bench worker process, "
              f"udp_multicast CAN in a private network namespace; {sessions} short sessions per connector on all 4: "
              "trigger (car plug-in and unplug at the rig, the controller's phase change to charging) to the "
              "TransactionEvent received at the CSMS; peak RSS = the controller's VmHWM over those sessions; "
              f"replay = {queued} TransactionEvents queued in the controller's store, the CSMS away at start and "
              "back: its receipt of BootNotification to its answer to the last queued event")
    args = ["--can", worker.MULTICAST_CAN, "--sessions", str(sessions), "--queued", str(queued)]
    try:
        result = worker.run_worker("tools.bench.ocpp_figures", args, timeout_s=60.0 + 15.0 * sessions + 0.2 * queued)
    except worker.NetnsUnavailable as exc:
        return {"status": "skipped", "reason": f"needs a private network namespace: {exc}", "method": method}
    except worker.WorkerFailed as exc:
        return {"status": "error", "reason": str(exc), "method": method}
    return {**result, "method": method}


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Of these figures only the memory has a goal (the footprint's); the others are printed in describe()."""
    return [goal("OCPP: controller peak RSS, nevi sessions on 4 connectors, OCPP over TLS",
                 result.get("controller_peak_rss_mb"), GOAL_RSS_MB, "MB", note=result.get("reason", ""))]


def describe(figure: dict[str, Any]) -> list[str]:
    if "trigger_to_transaction_event_ms" not in figure:
        return []
    lines = [f"  {figure['sessions_ok']}/{figure['sessions']} sessions ok; controller peak RSS "
             f"{figure['controller_peak_rss_mb']} MB (native extensions of "
             f"{', '.join(figure.get('controller_native_packages') or ['?'])}); "
             "trigger to TransactionEvent at the CSMS (ms):"]
    for name, n in {**figure["trigger_to_transaction_event_ms"],
                    "all": figure["trigger_to_transaction_event_all_ms"]}.items():
        if n.get("n"):
            lines.append(f"    {name:<22} n={n['n']:<4} p50 {n['p50']:.2f}  p99 {n['p99']:.2f}  max {n['max']:.2f}")
    queued = figure.get("queued_to_received_ms") or {}
    if queued.get("n"):
        lines.append(f"    of which queue and link (event's timestamp to receipt, every TransactionEvent) "
                     f"n={queued['n']} p50 {queued['p50']:.2f}  p99 {queued['p99']:.2f}  max {queued['max']:.2f}")
    replay = figure.get("replay") or {}
    if replay:
        lines.append(f"  replay of {replay['queued']} queued TransactionEvents after a reconnect: "
                     f"{replay['replay_s']} s "
                     f"({replay['events_per_s']} events/s; {replay['received']} received, {replay['duplicates']} "
                     f"duplicates; reconnect back-off {replay['reconnect_s']} s)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.ocpp_figures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--can", required=True, metavar="udp_multicast:GROUP")
    parser.add_argument("--sessions", type=int, default=SESSIONS, help="sessions per connector")
    parser.add_argument("--queued", type=int, default=QUEUED, help="TransactionEvents queued before the replay")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.queued < TRANSACTIONS * 2:
        parser.error(f"--sessions must be at least 1 and --queued at least {TRANSACTIONS * 2}")
    interface, channel = worker.multicast_can(parser, args.can, "the controller runs as a separate process")
    worker.require_loopback_only()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(measure((interface, channel), args.sessions, args.queued))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
