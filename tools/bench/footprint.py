"""Figure 5, footprint: the `charger-controller` process's resident memory while the four connectors of the
`nevi` setup charge, its start-up time until every connector is available, and its idle CPU share.

The controller runs as its own process (`python -m controller --events-json`), the rig and the cars in this
worker process; they share a udp_multicast CAN channel inside a private network namespace. Memory is VmRSS
from /proc/<pid>/status sampled every 100 ms while charging, plus VmHWM (the peak) at the end. Start-up is from
just before the process is spawned to the latest first "available" phase event (its own timestamp). Idle CPU
is the process's utime+stime over a window with the rig running and no car plugged. Throughout, the controller
is linked to the rig's CSMS over TLS (security profile 2; tools/bench/cabinet.py).

    python -m tools.bench.footprint --can udp_multicast:GROUP [--quick]   (inside a private namespace)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from tools.bench import worker
from tools.bench.cabinet import BenchCabinet
from tools.bench.stats import goal

SETUP = "nevi"
GOAL_RSS_MB = 60.0
GOAL_STARTUP_S = 0.5  # developers' guide
SETTLE_S = 1.0
IDLE_S, QUICK_IDLE_S = 5.0, 1.0
CHARGING_S, QUICK_CHARGING_S = 4.0, 1.0
SAMPLE_PERIOD_S = 0.1
_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of proc(5), counted after the name


def process_memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values


async def _cpu_percent(pid: int, seconds: float) -> float:
    cpu0, t0 = process_cpu_s(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (process_cpu_s(pid) - cpu0) / (time.monotonic() - t0) * 100.0


async def measure(can_override: tuple[str, str], quick: bool) -> dict[str, Any]:
    run = BenchCabinet(SETUP, "separate_process", can_override)
    try:
        await run.start()
        pid = run.pid
        startup_s = max(run.state.available_t.values()) - run.spawned_t
        started_s = run.state.started_t - run.spawned_t if run.state.started_t else None
        await asyncio.sleep(SETTLE_S)
        idle_cpu = await _cpu_percent(pid, QUICK_IDLE_S if quick else IDLE_S)
        idle_rss_kb = process_memory_kb(pid)["VmRSS"]
        await run.charge()
        samples = []
        cpu0, t0 = process_cpu_s(pid), time.monotonic()
        while time.monotonic() - t0 < (QUICK_CHARGING_S if quick else CHARGING_S):
            samples.append(process_memory_kb(pid)["VmRSS"])
            await asyncio.sleep(SAMPLE_PERIOD_S)
        charging_cpu = (process_cpu_s(pid) - cpu0) / (time.monotonic() - t0) * 100.0
        charging = [cid for cid, car in run.cars.items() if car.phase == "charging"]
        peak_kb = process_memory_kb(pid)["VmHWM"]
        ocpp = run.ocpp_link()
    finally:
        await run.close()
    return {"status": "ok", "startup_s": round(startup_s, 3),
            # spawn to the end of ControllerApp.start() (imports, config, drivers, Modbus devices' first reading)
            "started_event_s": None if started_s is None else round(started_s, 3), "idle_cpu_percent": round(idle_cpu, 1),
            "idle_rss_mb": round(idle_rss_kb / 1024, 1), "charging_rss_mb": round(max(samples) / 1024, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1), "charging_cpu_percent": round(charging_cpu, 1),
            "rss_samples": len(samples), "connectors_still_charging": charging, "ocpp": ocpp}


ENTRY_MODULES = ("controller", "controller.__main__", "controller.app")


# VmRSS from /proc: ru_maxrss would carry over the spawning process's peak (Linux keeps it across exec)
_RSS_KB = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS:')))"


def import_profile(count: int = 10) -> dict[str, Any]:
    """Where start-up time and memory go before main(): the bare interpreter, then the controller's imports."""
    bare = _wall(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    imports = "import " + ", ".join(ENTRY_MODULES[1:])
    rss_kb = {name: int(subprocess.run([sys.executable, "-c", f"{code}; {_RSS_KB}"], capture_output=True,
                                       text=True, cwd=worker.ROOT, check=True).stdout)
              for name, code in (("bare", "pass"), ("imports", imports))}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", imports],
                          capture_output=True, text=True, cwd=worker.ROOT, check=False)
    found = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].strip()
        # third-party and stdlib packages as a whole, the controller's own subsystems two levels down; not the
        # entry points that hold everything (nested entries are counted in their parents too)
        own = name.startswith("controller.") and name.count(".") <= 2
        if name in ENTRY_MODULES or not (own or "." not in name):
            continue
        found.append({"module": name, "cumulative_ms": round(int(parts[1]) / 1000, 1)})
    found.sort(key=lambda item: item["cumulative_ms"], reverse=True)
    return {"python_startup_ms": round(bare * 1000, 1), "python_rss_mb": round(rss_kb["bare"] / 1024, 1),
            "rss_after_imports_mb": round(rss_kb["imports"] / 1024, 1), "slowest_imports": found[:count]}


def _wall(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run_footprint(quick: bool = False) -> dict[str, Any]:
    """Figure 5 for the harness; near or over a goal, an import profile says where time and memory went."""
    method = (f"`charger-controller --events-json` as its own process, rig and 4 cars in a bench worker process, "
              "udp_multicast CAN in a private network namespace; RSS = VmRSS sampled every "
              f"{SAMPLE_PERIOD_S * 1000:.0f} ms while all 4 connectors charge (peak = VmHWM); start-up = spawn to "
              f"the last first 'available' event; idle CPU over {QUICK_IDLE_S if quick else IDLE_S:.0f} s with the "
              "rig up and no car; OCPP connected to the rig's CSMS over TLS (security profile 2) throughout")
    try:
        result = worker.run_worker("tools.bench.footprint", ["--can", worker.MULTICAST_CAN]
                                  + (["--quick"] if quick else []), timeout_s=120.0)
    except worker.NetnsUnavailable as exc:
        return {"status": "skipped", "reason": f"needs a private network namespace: {exc}", "method": method}
    if result.get("startup_s", 0.0) > GOAL_STARTUP_S or result.get("peak_rss_mb", 0.0) > 0.8 * GOAL_RSS_MB:
        result["import_profile"] = import_profile()
    return {**result, "method": method}


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [goal("footprint: controller RSS, 4 connectors charging, OCPP over TLS", result.get("charging_rss_mb"),
                 GOAL_RSS_MB, "MB"),
            goal("footprint: start-up until every connector available", result.get("startup_s"), GOAL_STARTUP_S,
                 "s")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.footprint", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--can", required=True, metavar="udp_multicast:GROUP")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    interface, channel = worker.multicast_can(parser, args.can, "the controller runs as a separate process")
    worker.require_loopback_only()
    print(json.dumps(asyncio.run(measure((interface, channel), args.quick))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
