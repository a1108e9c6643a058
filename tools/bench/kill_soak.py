"""Kill the controller with SIGKILL at random instants, many times, and check every restart.

    python -m tools.bench.kill_soak [--kills 200] [--seed N] [--out bench/kill_soak.json]

The controller runs as its own process on the desk setup (DIN over veth, CAN over udp_multicast, all in a
private network namespace this tool makes; root and iproute2 needed); the rig stays up across every kill.
Each kill comes at a random instant of a session (any phase, or right after an event the store writes); then:
the I/O board tripped by itself (contactors open, CP F) and the modules went off; the store opens at the
restart; every session is there once, ended ones unchanged, the one running at the kill interrupted with
the energy of its last checkpoint (every second); one crash outage and a controller_down event per kill;
the board's trip is reset by the clean start; at the end, the controller's TransactionEvents at the soak's
CSMS: none lost, none out of order, a repeat only of one in flight at a kill. The first failed check stops the run (exit 1) and names the
round and the seed: `--seed N --kills ROUND+1` replays it. Figures go to --out (JSON).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hil.link import netns
from tools.bench.worker import require_loopback_only
from tools.bench.stats import summarize

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "bench" / "kill_soak.json"
CAN = "udp_multicast:239.74.163.9"


async def worker(kills: int, seed: int, store_dir: Path, echo) -> dict[str, Any]:
    from tools.bench.kill_rounds import KillSoak, RoundFailed

    soak = KillSoak(store_dir / "kill-soak.db", seed)
    t0 = time.monotonic()
    failure = None
    try:
        await soak.start(tuple(CAN.split(":", 1)))
        for index in range(kills):
            try:
                rnd = await soak.one_round(index)
            except (RoundFailed, TimeoutError) as exc:
                failure = {"round": index, "error": f"{exc.__class__.__name__}: {exc}"}
                break
            echo(f"kill {index + 1:4d}/{kills}  {rnd['kill']:11s} {rnd['after_plug_s']:6.2f} s after plug  "
                 f"in {rnd['state_at_kill']:18s} trip {rnd['safe']['trip']:14s} interrupted "
                 f"{rnd['interrupted_energy_kwh'] or '-'}  restart {rnd['restart_s']} s")
        # the CSMS's account: every TransactionEvent once (a repeat only of the one in flight at a kill)
        ocpp = await soak.csms.verdict(len(soak.rounds), seed)
    finally:
        await soak.stop()
    result = summary(soak.rounds, kills, seed, time.monotonic() - t0, failure)
    result["ocpp"] = ocpp
    result["ok"] = result["ok"] and ocpp["ok"]
    return result


def summary(rounds: list[dict], kills: int, seed: int, wall_s: float, failure: dict | None) -> dict[str, Any]:
    interrupted = [e for r in rounds for e in r["interrupted_energy_kwh"]]
    return {
        "ok": failure is None and len(rounds) == kills, "kills_asked": kills, "kills_checked": len(rounds),
        "seed": seed, "failure": failure, "wall_s": round(wall_s, 1),
        "s_per_kill": round(wall_s / max(1, len(rounds)), 2),
        "kill_instants": dict(Counter(r["kill"] for r in rounds)),
        "state_at_kill": dict(Counter(r["state_at_kill"] for r in rounds)),
        "board_trips": dict(Counter(r["safe"]["trip"] for r in rounds)),
        "sessions_interrupted": len(interrupted),
        "interrupted_with_energy": sum(1 for e in interrupted if e > 0),
        # the controller had printed session_ended, but the store had not committed the end when it died
        "session_end_not_durable_at_kill": sum(1 for r in rounds if r["end_not_durable_at_kill"]),
        "restart_s": summarize(sorted(r["restart_s"] for r in rounds)),
        "booked_downtime_s": summarize(sorted(r["downtime_s"] for r in rounds if r["downtime_s"] is not None)),
        # the port was already out (e.g. a board trip under load): its open outage covers the downtime
        "kills_with_port_out": sum(1 for r in rounds if r["port_out_at_kill"]),
        "rounds": rounds,
    }


def _worker_main(args) -> int:
    require_loopback_only()
    logging.basicConfig(level=logging.CRITICAL)  # the kills make the rig log errors by design
    with tempfile.TemporaryDirectory(prefix="kill-soak-") as tmp:
        result = asyncio.run(worker(args.kills, args.seed, Path(tmp), lambda line: print(line, flush=True)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.kill_soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None, help="default: drawn, and printed for a replay")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # inside the namespace
    args = parser.parse_args(argv)
    if args.kills < 1:
        parser.error("--kills must be positive")
    if args.worker:
        return _worker_main(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"kill soak: {args.kills} kills, seed {seed} (replay: --seed {seed})", flush=True)
    out = args.out.resolve()
    out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_name(out.stem + "-stderr.log")  # the killed controllers' and the rig's complaints
    try:
        with netns.private_netns() as prefix, open(log, "w") as stderr:
            done = subprocess.run([*prefix, sys.executable, "-m", "tools.bench.kill_soak", "--worker", "--kills",
                                   str(args.kills), "--seed", str(seed), "--out", str(out)], cwd=ROOT, check=False,
                                  stderr=stderr)
    except netns.NetnsUnavailable as exc:
        print(f"kill soak: needs a private network namespace: {exc}", file=sys.stderr)
        return 2
    if not out.exists():
        tail = log.read_text().strip().splitlines()[-5:]
        print(f"kill soak: the worker wrote no result (exit {done.returncode}); {log}:", *tail, sep="\n",
              file=sys.stderr)
        return 1
    result = json.loads(out.read_text())
    print(f"kills checked {result['kills_checked']}/{result['kills_asked']} in {result['wall_s']} s "
          f"({result['s_per_kill']} s each); states at the kill {result['state_at_kill']}")
    print(f"sessions interrupted {result['sessions_interrupted']} ({result['interrupted_with_energy']} with energy); "
          f"restart p50 {result['restart_s'].get('p50')} s max {result['restart_s'].get('max')} s; {out}")
    ocpp = result.get("ocpp") or {}
    print(f"ocpp: {ocpp.get('events')} TransactionEvents in {ocpp.get('transactions')} transactions, "
          f"{ocpp.get('lost')} lost, {ocpp.get('duplicates')} duplicated, {ocpp.get('retries')} retried",
          *(f"ocpp: {problem}" for problem in ocpp.get("problems", ())), sep="\n")
    if result["failure"]:
        f = result["failure"]
        print(f"kill soak: FAILED at round {f['round']} (replay: --seed {seed} --kills {f['round'] + 1}): "
              f"{f['error']}")
    print("kill soak: ok" if result["ok"] else "kill soak: FAILED")
    return 0 if result["ok"] and done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
