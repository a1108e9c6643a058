"""Runs rig scenarios with charger-controller and charger-hil as separate processes on one CAN channel.

Meant to run where SocketCAN exists (inside tools/vcan-run): one line per scenario with its time, JSON
reports in OUT. Before the first scenario it imports what both processes import, once: in a guest that
reads the host's files over 9p, the first import of each file is slow, and the controller must come up
within the rig's start timeout.
Usage: python -m tests.vcan.rig_tier OUT CHANNEL SCENARIO...
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

SCENARIO_TIMEOUT_S = 300
# The controller needs about 22 s from start to every connector available in an emulated guest (rig default 30 s).
START_TIMEOUT_S = 180
# The guest's emulated CPU runs Python about 10x slower: a 30 ms pause of the controller there is 0.3 s, the real
# board's watchdog. The tier checks the wire (SocketCAN); heartbeat timing is checked natively in tests/rig.
# The controller's judgement of a silent board (io_board.lost_after_s, 0.3 s) is stretched alike.
BOARD_WATCHDOG_S = 2.0
# The car speaks DIN over the SECC's test door; its timeouts and the strict car's answer-time checks (250 ms
# for CurrentDemand) are stretched the same way, so the tier checks the wire, not the emulator's speed.
CAR_PROFILE = Path(__file__).with_name("din_emulated_cpu.toml")


def main(argv: list[str]) -> int:
    out, channel, scenarios = Path(argv[0]), argv[1], argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import controller.__main__, hil.__main__"], check=False)
    print(f"warm-up imports: {time.monotonic() - started:.1f} s", flush=True)
    failed = 0
    for name in scenarios:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "hil", "run", "--separate-process", "--can", channel, "--scenario", name,
             "--quiet", "--start-timeout", str(START_TIMEOUT_S), "--car", str(CAR_PROFILE),
             "--board-watchdog", str(BOARD_WATCHDOG_S),
             "--set", f"io_board.lost_after_s={BOARD_WATCHDOG_S}", "--report", str(out / f"{name}.json")],
            capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_S)
        failed += done.returncode != 0
        print(f"{name}: exit {done.returncode} in {time.monotonic() - started:.1f} s", flush=True)
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", flush=True)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
