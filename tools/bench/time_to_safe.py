"""Figure: time to safe per injected fault, p50/p99 per kind (charger-hil --inject, hil/injection).

Each round is a whole desk session (V2G DIN, controller in the rig's process, OCPP to the rig's CSMS over TLS)
with one fault made at the wires in the kind's bench phase (charging where it applies). Time to safe, measured on
the rig's side: from the injection (or from the moment the output went live, if it was not) to the rig sample
from which on every module is off, the contactors are open and the plant current is below 1 A (2 ms samples on
top of the plant's 10 ms physics tick). The bound per kind is the matrix test's (generous, rig machines are
noisy); a bound is a goal row, not a pass/fail condition of the bench.

    python -m tools.bench.time_to_safe [--rounds N] [--kind NAME ...]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from hil.injection.kinds import KINDS
from hil.injection.spec import parse_injection
from hil.runner import run_scenario
from hil.setup import load_setup
from tools.bench.cabinet import OCPP_PROFILE
from tools.bench.stats import goal, summarize

ROUNDS = 3  # about 5 s a round: 20 kinds take about 5 minutes
QUICK_KINDS = ("estop", "cp-e")
OCPP_SETTLE_S = 0.5


def bench_spec(kind_name: str) -> str:
    """The phase a kind is benched in: charging where it applies, else its first phase."""
    kind = KINDS[kind_name]
    return f"{kind.name}@{'charging' if 'charging' in kind.phases else kind.phases[0]}"


def timed_kinds() -> list[str]:
    """Kinds with a time bound (a warning that lets charging go on has none)."""
    return [k.name for k in KINDS.values() if k.reaction != "continue"]


def _short_ocpp_settle(run) -> None:
    """The CSMS is there for the load; a fault's transaction may stay open, and no verdict waits for it."""
    run.csms.settle_s = OCPP_SETTLE_S


def measure(kind_name: str, rounds: int) -> dict[str, Any]:
    spec = parse_injection(bench_spec(kind_name))
    samples: list[float] = []
    codes: set[str] = set()
    problems: list[str] = []
    for _ in range(rounds):
        report, found = asyncio.run(run_scenario("dc-session", load_setup("desk"), injections=(spec,),
                                                 protocol="din", new_session=False, ocpp_profile=OCPP_PROFILE,
                                                 on_run=_short_ocpp_settle))
        record = report["injections"][0]
        if record["time_to_safe_ms"] is not None:
            samples.append(record["time_to_safe_ms"])
        codes.update(record["codes"])
        problems += found
    bound = spec.kind.bound_s(spec.phase)
    return {"inject": spec.text, "reaction": spec.kind.reaction, "bound_ms": bound * 1000.0 if bound else None,
            "time_to_safe_ms": summarize(samples, 1), "missing": rounds - len(samples), "codes": sorted(codes),
            "problems": problems[:3]}


def run_time_to_safe(quick: bool, kinds: list[str] | None = None, rounds: int | None = None) -> dict[str, Any]:
    names = kinds or (list(QUICK_KINDS) if quick else timed_kinds())
    count = rounds or (1 if quick else ROUNDS)
    results = {name: measure(name, count) for name in names}
    return {"status": "ok", "rounds": count, "kinds": results,
            "method": "desk setup, V2G DIN, controller in the rig's process; one fault per session made at the "
                      "wires (hil/injection); time from the injection (or the output going live) to modules off, "
                      "contactors open and < 1 A for good, sampled every 2 ms on the rig's side; OCPP connected to "
                      "the rig's CSMS over TLS (security profile 2)"}


def goals(figure: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, numbers in (figure.get("kinds") or {}).items():
        if numbers["bound_ms"] is None:
            continue
        rows.append(goal(f"time to safe p99, {numbers['inject']} ({numbers['reaction']})",
                         numbers["time_to_safe_ms"].get("p99"), numbers["bound_ms"], "ms",
                         note="; ".join(numbers["problems"][:1])))
    return rows


def describe(figure: dict[str, Any]) -> list[str]:
    lines = []
    for name, numbers in (figure.get("kinds") or {}).items():
        t = numbers["time_to_safe_ms"]
        if t.get("n"):
            lines.append(f"  {numbers['inject']:<34} n={t['n']:<2} p50 {t['p50']:8.1f}  p99 {t['p99']:8.1f} ms  "
                         f"codes {', '.join(numbers['codes']) or '-'}")
        else:
            lines.append(f"  {numbers['inject']:<34} never safe in {numbers['missing']} rounds")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.time_to_safe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--kind", action="append", choices=sorted(KINDS), help="only these kinds (repeatable)")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 1000:
        parser.error("--rounds must be from 1 to 1000")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    figure = run_time_to_safe(False, args.kind, args.rounds)
    print("\n".join(describe(figure)))
    print(json.dumps(figure, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
