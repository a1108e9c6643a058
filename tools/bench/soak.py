"""make soak: many consecutive sessions on ONE controller, and whether anything grows.

    python -m tools.bench.soak [--sessions 1000] [--seed N] [--every 50] [--warmup 200] [--out bench/soak.json]

The controller runs in this process with the `nevi` rig (four ports, sessions on all at once, see
soak_sessions.py); every `--every` sessions, with every port idle, this process's resident memory (VmRSS),
open file descriptors, threads (/proc/self/status), the asyncio tasks of the controller's loop and the size
of the store (file + WAL + shared memory) are printed and saved. After the warm-up the growth of each is
fitted by least squares (growth = slope x the sessions after warm-up). Goals: RSS grows at most 2 MB after
warm-up (fitted, and no sample more than 2 MB above the first one after warm-up); file descriptors, threads
and tasks never above their value at the end of the warm-up; every session the controller started is in the
store exactly once, finished, with the energy its session_ended event gave; every session without a fault
is finished by the car, every fault ends its session. Exit 1 when a goal is missed.
The rig shares the process: a leak in the rig counts too (nothing is excused).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tools.bench.soak_sessions import SoakRun, plan_sessions, soak_setup

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "bench" / "soak.json"
RSS_GOAL_MB = 2.0
COUNTED = ("fds", "threads", "tasks")  # no growth at all after warm-up


def take_sample(sessions_done: int, store_path: Path, t0: float) -> dict[str, Any]:
    status = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "Threads"):
                status[key] = int(rest.split()[0])
    store_bytes = sum(p.stat().st_size for p in (store_path, Path(f"{store_path}-wal"), Path(f"{store_path}-shm"))
                      if p.exists())
    return {"sessions": sessions_done, "t_s": round(time.monotonic() - t0, 1),
            "rss_mb": round(status["VmRSS"] / 1024.0, 2), "fds": len(os.listdir("/proc/self/fd")),
            "threads": status["Threads"], "python_threads": threading.active_count(),
            "tasks": len(asyncio.all_tasks()), "store_kb": round(store_bytes / 1024.0, 1),
            "load1": round(os.getloadavg()[0], 2)}  # the machine's load: timing faults follow it


def least_squares_slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def judge_growth(samples: list[dict], warmup: int) -> dict[str, Any]:
    """Per metric: slope per 100 sessions and fitted growth after warm-up; whether the goal holds."""
    after = [s for s in samples if s["sessions"] >= warmup]
    if len(after) < 2:
        return {"ok": False, "reason": f"fewer than 2 samples after a warm-up of {warmup} sessions"}
    xs = [s["sessions"] for s in after]
    span = xs[-1] - xs[0]
    out: dict[str, Any] = {"warmup_sessions": warmup, "samples_after_warmup": len(after)}
    ok = True
    for key in ("rss_mb", *COUNTED, "store_kb"):
        ys = [s[key] for s in after]
        slope = least_squares_slope(xs, ys)
        entry = {"slope_per_100_sessions": round(slope * 100, 4), "fitted_growth": round(slope * span, 3),
                 "first": ys[0], "last": ys[-1], "max": max(ys)}
        if key == "rss_mb":
            entry["goal"] = f"fitted growth and max - first <= {RSS_GOAL_MB} MB"
            entry["ok"] = slope * span <= RSS_GOAL_MB and max(ys) - ys[0] <= RSS_GOAL_MB
        elif key in COUNTED:
            entry["goal"] = "never above the first sample after warm-up"
            entry["ok"] = max(ys) <= ys[0]
        else:
            entry["goal"] = "reported (the store grows with every session by design)"
            entry["ok"] = True
        ok = ok and entry["ok"]
        out[key] = entry
    out["ok"] = ok
    return out


def check_store(run: SoakRun, store_path: Path) -> dict[str, Any]:
    """Every session the controller started is in the store once, finished, with its event's energy."""
    from controller.store import queries
    from controller.store.database_file import connect

    started = sum(p.started for p in run.ports.values())
    conn = connect(store_path, read_only=True)
    try:
        rows = queries.recent_sessions(conn, started + 100, None)
    finally:
        conn.close()
    problems = []
    for cid, port in run.ports.items():
        mine = sorted((r for r in rows if r["connector"] == cid), key=lambda r: r["id"])
        if len(mine) != port.started or len(port.ended) != port.started:
            problems.append(f"connector {cid}: {port.started} started, {len(port.ended)} ended, "
                            f"{len(mine)} in the store")
        for row, (energy, reason) in zip(mine, port.ended):
            if row["status"] in ("running", "interrupted") or row["end_t"] is None:
                problems.append(f"session {row['id']}: status {row['status']}")
            elif abs(row["energy_kwh"] - energy) > 1e-6 or row["stop_reason"] != reason:
                problems.append(f"session {row['id']}: store {row['energy_kwh']} kWh / {row['stop_reason']!r}, "
                                f"event {energy} kWh / {reason!r}")
    return {"ok": not problems, "sessions_started": started, "sessions_in_store": len(rows),
            "with_energy": sum(1 for r in rows if r["energy_kwh"] > 0), "problems": problems[:20]}


async def soak(sessions: int, seed: int, store_dir: Path, every: int, warmup: int,
               echo=print) -> dict[str, Any]:
    store_path = store_dir / "soak-store.db"
    run = SoakRun(soak_setup(store_path))
    plans = plan_sessions(sessions, run.ids, seed)
    t0 = time.monotonic()
    samples: list[dict] = []
    await run.start()
    try:
        samples.append(take_sample(0, store_path, t0))
        echo(_line(samples[-1]))
        done = 0
        while done < sessions:
            next_mark = (done // every + 1) * every
            size = min(len(run.ids), next_mark - done, sessions - done)
            await run.run_round(plans[done:done + size])
            done += size
            if done % every == 0 or done == sessions:
                samples.append(take_sample(done, store_path, t0))
                echo(_line(samples[-1]))
    finally:
        await run.stop()
    wall_s = time.monotonic() - t0
    growth = judge_growth(samples, warmup)
    store = check_store(run, store_path)
    tally = run.tally
    endings = {k.split(" ", 1)[1]: n for k, n in tally.items() if k.startswith("ending ")}
    unexpected = tally["unexpected"]
    return {"ok": growth["ok"] and store["ok"] and not unexpected, "sessions": sessions, "seed": seed,
            "wall_s": round(wall_s, 1), "s_per_session": round(wall_s / max(1, sessions), 3), "ports": len(run.ids),
            "endings": endings, "protocols": {p: tally[f"protocol {p}"] for p in ("din", "iso2")},
            "faults_not_made": tally["fault or stop not made (session ended first)"],
            # a session without a fault the car did not finish, a fault the car did not notice, or not one session
            "sessions_unexpected": unexpected, "unexpected": list(run.unexpected),
            "growth": growth, "store": store, "samples": samples}


def _line(s: dict) -> str:
    return (f"sessions {s['sessions']:5d}  t {s['t_s']:7.1f} s  rss {s['rss_mb']:7.2f} MB  fds {s['fds']:3d}  "
            f"threads {s['threads']:3d}  tasks {s['tasks']:3d}  store {s['store_kb']:8.1f} kB  load {s['load1']:.1f}")


def plot(result: dict, png: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    samples = result["samples"]
    xs = [s["sessions"] for s in samples]
    fig, axes = pyplot.subplots(5, 1, figsize=(8, 10), sharex=True)
    for ax, key, label in zip(axes, ("rss_mb", "fds", "threads", "tasks", "store_kb"),
                              ("RSS (MB)", "open fds", "threads", "asyncio tasks", "store (kB)")):
        ax.plot(xs, [s[key] for s in samples], marker="o")
        ax.axvline(result["growth"].get("warmup_sessions", 0), color="grey", linestyle="--")
        ax.set_ylabel(label)
    axes[-1].set_xlabel("sessions")
    fig.suptitle(f"soak: {result['sessions']} sessions, seed {result['seed']}, "
                 f"{'ok' if result['ok'] else 'FAILED'} ({result['wall_s']} s)")
    fig.tight_layout()
    fig.savefig(png)
    pyplot.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=None, help="default: drawn, and printed for a replay")
    parser.add_argument("--every", type=int, default=50, help="sample every N sessions")
    parser.add_argument("--warmup", type=int, default=None, help="sessions before growth counts (default: 20%%)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON; the PNG goes next to it")
    parser.add_argument("--store-dir", type=Path, default=None, help="keep the store here (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.every < 1:
        parser.error("--sessions and --every must be positive")
    warmup = args.warmup if args.warmup is not None else max(args.every, (args.sessions // 5) // args.every * args.every)
    if not 0 <= warmup < args.sessions:
        parser.error("--warmup must be below --sessions")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"soak: {args.sessions} sessions, seed {seed} (replay: --seed {seed}), warm-up {warmup}", flush=True)
    logging.basicConfig(level=logging.CRITICAL)  # the injected faults log errors by design
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        store_dir = args.store_dir or Path(tmp)
        store_dir.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(soak(args.sessions, seed, store_dir, args.every, warmup,
                                  echo=lambda line: print(line, flush=True)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    png = args.out.with_suffix(".png")
    plot(result, png)
    g = result["growth"]
    for key in ("rss_mb", *COUNTED, "store_kb"):
        if key in g:
            e = g[key]
            print(f"{key:9s} slope {e['slope_per_100_sessions']:+.4f}/100 sessions  fitted growth "
                  f"{e['fitted_growth']:+.3f}  first {e['first']}  max {e['max']}  {'ok' if e['ok'] else 'MISSED'}")
    s = result["store"]
    print(f"store: {s['sessions_in_store']} sessions for {s['sessions_started']} started, "
          f"{s['with_energy']} with energy > 0; {'ok' if s['ok'] else 'PROBLEMS: ' + '; '.join(s['problems'])}")
    if result["sessions_unexpected"]:
        print(f"{result['sessions_unexpected']} sessions ended unexpectedly, e.g. {result['unexpected'][:3]}")
    print(f"wall {result['wall_s']} s ({result['s_per_session']} s/session); {args.out}, {png}")
    print("soak: ok" if result["ok"] else "soak: FAILED")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
