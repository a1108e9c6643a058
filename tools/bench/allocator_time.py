"""Figure allocator_decision_us: how long one power-sharing decision takes (controller/power_sharing).

Measured on the nevi-shared cabinet (8 groups of 90 kW, 4 outputs, 600 kW): each sample is one allocate()
call from the allocation in force, on inputs that change as in a session (requests drifting, cars arriving and
leaving, a group failing, the external limit changing), timed in this process with thread_time_ns (CPU time:
the goal, not moved by other processes on a shared machine) and perf_counter_ns (wall time, shown too).
"""
from __future__ import annotations

import math
import random
import time
from typing import Any

from controller.power_sharing.allocator import GroupRating, PortDemand, allocate
from tools.bench.stats import goal, summarize

DECISION_GOAL_US = 1000.0  # p99: a decision well inside one control period (limits must follow within 1 s)
OUTPUTS = (1, 2, 3, 4)


def _situations(count: int, seed: int = 18):
    rng = random.Random(seed)
    for _ in range(count):
        ports = []
        for o in OUTPUTS:
            if rng.random() < 0.2:
                ports.append(PortDemand(o, False, 0.0, 350_000.0, 350.0))
                continue
            volts = rng.choice((400.0, 800.0))
            ports.append(PortDemand(o, True, volts, 350_000.0, 350.0, rng.choice((50e3, 150e3, 250e3, 350e3)),
                                    500.0, rng.uniform(0.0, 500.0), derating=rng.choice((1.0, 1.0, 0.8))))
        groups = [GroupRating(f"G{i}", 90_000.0, 300.0, frozenset(OUTPUTS), healthy=rng.random() > 0.02)
                  for i in range(1, 9)]
        yield ports, groups, rng.choice((math.inf, math.inf, 300_000.0))


def run_allocator_time(quick: bool) -> dict[str, Any]:
    count = 200 if quick else 20_000
    previous = None
    cpu_us, wall_us = [], []
    for ports, groups, external in _situations(count):
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        result = allocate(ports, groups, 600_000.0, external, previous)
        wall_us.append((time.perf_counter_ns() - wall) / 1000.0)
        cpu_us.append((time.thread_time_ns() - cpu) / 1000.0)
        previous = result.groups
    return {"status": "ok", "decision_us": summarize(cpu_us), "decision_wall_us": summarize(wall_us),
            "method": __doc__.split("\n\n")[1].replace("\n", " ")}


def goals(figure: dict[str, Any]) -> list[dict[str, Any]]:
    value = (figure.get("decision_us") or {}).get("p99") if figure.get("status") == "ok" else None
    return [goal("power-sharing allocator decision p99 (CPU time), nevi-shared (8 groups, 4 outputs)", value,
                 DECISION_GOAL_US, "us", note=figure.get("reason", ""))]


def describe(figure: dict[str, Any]) -> list[str]:
    n = figure.get("decision_us") or {}
    if not n.get("n"):
        return []
    w = figure.get("decision_wall_us") or {}
    return [f"  allocate() CPU n={n['n']}  p50 {n['p50']:.1f}  p99 {n['p99']:.1f}  max {n['max']:.1f} us",
            f"  allocate() wall          p50 {w.get('p50', 0):.1f}  p99 {w.get('p99', 0):.1f}  max {w.get('max', 0):.1f} us"]
