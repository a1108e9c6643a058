"""Run a command and freeze it now and then, as a loaded machine does: a process that goes unscheduled for a few
hundred milliseconds (issue #18: a matrix contact closed across a voltage on a loaded 2-core CI machine).

    python -m tools.stall_injector [--min-stall S] [--max-stall S] [--min-gap S] [--max-gap S] [--seed N]
                                   -- COMMAND [ARGS...]

Every random gap (default 0.3-1.5 s) the command's process and its children get SIGSTOP, then SIGCONT after a
random stall (default 0.2-0.4 s). The command's exit status is returned; the stalls are printed to stderr at the
end. Not part of `make test`: a tool to reproduce timing faults by hand, e.g.

    python -m tools.stall_injector -- python -m pytest tests/rig/test_power_sharing_scenarios.py -k emergency
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time


def _family(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.stall_injector", description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-stall", type=float, default=0.2)
    parser.add_argument("--max-stall", type=float, default=0.4)
    parser.add_argument("--min-gap", type=float, default=0.3)
    parser.add_argument("--max-gap", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    if not (0 < args.min_stall <= args.max_stall and 0 < args.min_gap <= args.max_gap):
        parser.error("the bounds must be positive with min <= max")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    rng = random.Random(args.seed)
    try:
        child = subprocess.Popen(args.command)
    except OSError as exc:
        print(f"stall_injector: cannot run {args.command[0]}: {exc.strerror}", file=sys.stderr)
        return 2
    stalls = []
    try:
        while child.poll() is None:
            time.sleep(rng.uniform(args.min_gap, args.max_gap))
            if child.poll() is not None:
                break
            stall = rng.uniform(args.min_stall, args.max_stall)
            pids = _family(child.pid)
            _signal_all(pids, signal.SIGSTOP)
            try:
                time.sleep(stall)
            finally:
                _signal_all(pids, signal.SIGCONT)
            stalls.append(stall)
    except KeyboardInterrupt:
        _signal_all(_family(child.pid), signal.SIGCONT)
        child.terminate()
    code = child.wait()
    if stalls:
        print(f"stall_injector: {len(stalls)} stalls, {min(stalls):.2f}-{max(stalls):.2f} s, "
              f"{sum(stalls):.1f} s in all", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
