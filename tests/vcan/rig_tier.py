"""Runs rig scenarios with charger-controller and charger-hil as separate processes on one CAN channel.

Meant to run where SocketCAN exists (inside tools/vcan-run): one line per scenario, JSON reports in OUT.
Usage: python -m tests.vcan.rig_tier OUT CHANNEL SCENARIO...
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    out, channel, scenarios = Path(argv[0]), argv[1], argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in scenarios:
        done = subprocess.run(
            [sys.executable, "-m", "hil", "run", "--separate-process", "--can", channel, "--scenario", name,
             "--quiet", "--report", str(out / f"{name}.json")],
            capture_output=True, text=True, timeout=240)
        failed += done.returncode != 0
        print(f"{name}: exit {done.returncode}", flush=True)
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", flush=True)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
