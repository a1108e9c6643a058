"""The candump-like check behind `tools/vcan-run --check`: one process sends, another receives on vcan0.

    python tools/vcan/selfcheck.py [--channel vcan0] [--frames 200]

The parent opens the bus, starts a child process that opens its own socket on the same channel and echoes
every probe frame back with the next CAN ID. The first frame proves the crossing (the child prints it the
way candump does); the following ones measure the round trip. Exit status 0 when every frame came back with
the same data, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # python-can is imported inside the guest only
    import can

PROBE_ID = 0x123
ECHO_ID = PROBE_ID + 1
STOP_ID = 0x7FF
FIRST_DATA = b"vcan-run"
RECEIVE_TIMEOUT_S = 5.0


def candump_line(channel: str, arbitration_id: int, data: bytes) -> str:
    return f"  {channel}  {arbitration_id:03X}   [{len(data)}]  {' '.join(f'{b:02X}' for b in data)}"


def echo(channel: str) -> int:
    import can

    with can.Bus(interface="socketcan", channel=channel) as bus:
        print("ready", flush=True)
        first = True
        while True:
            message = bus.recv(timeout=RECEIVE_TIMEOUT_S * 2)
            if message is None or message.arbitration_id == STOP_ID:
                return 0 if message is not None else 1
            if message.arbitration_id != PROBE_ID:
                continue
            if first:
                print(candump_line(channel, message.arbitration_id, bytes(message.data)), flush=True)
                first = False
            bus.send(can.Message(arbitration_id=ECHO_ID, data=message.data, is_extended_id=False))


def probe(channel: str, frames: int) -> int:
    import can

    print(f"python {sys.version.split()[0]}: socket.AF_CAN {'present' if hasattr(socket, 'AF_CAN') else 'MISSING'}")
    with can.Bus(interface="socketcan", channel=channel) as bus:
        child = subprocess.Popen(
            [sys.executable, __file__, "--echo", "--channel", channel], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        try:
            if child.stdout.readline().strip() != "ready":
                print("FAIL: the receiving process did not start", file=sys.stderr)
                return 1
            round_trips: list[float] = []
            for index in range(frames + 1):
                data = FIRST_DATA if index == 0 else index.to_bytes(4, "big")
                sent_at = time.perf_counter()
                bus.send(can.Message(arbitration_id=PROBE_ID, data=data, is_extended_id=False))
                reply = receive_echo(bus)
                if reply is None or bytes(reply.data) != data:
                    got = "nothing" if reply is None else bytes(reply.data).hex()
                    print(f"FAIL: frame {index} ({data.hex()}) came back as {got}", file=sys.stderr)
                    return 1
                if index == 0:
                    print(f"receiver pid {child.pid} got:{child.stdout.readline().rstrip()}")
                else:
                    round_trips.append(time.perf_counter() - sent_at)
        finally:
            # Also on failure, so the child does not sit out its receive timeout.
            bus.send(can.Message(arbitration_id=STOP_ID, data=b"", is_extended_id=False))
            try:
                child.wait(timeout=RECEIVE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if child.returncode != 0:
        print(f"FAIL: the receiving process exited with {child.returncode}", file=sys.stderr)
        return 1
    report_round_trips(round_trips)
    print(f"vcan-run check: ok: frame {PROBE_ID:03X}#{FIRST_DATA.hex().upper()} sent by pid {os.getpid()} "
          f"was received by pid {child.pid} on {channel} (backend {os.environ.get('VCAN_RUN', 'unknown')})")
    return 0


def receive_echo(bus: "can.BusABC") -> "can.Message | None":
    deadline = time.monotonic() + RECEIVE_TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        message = bus.recv(timeout=left)
        if message is not None and message.arbitration_id == ECHO_ID:
            return message
    return None


def report_round_trips(round_trips: list[float]) -> None:
    if not round_trips:
        return
    ordered = sorted(round_trips)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"round trip over {len(ordered)} frames: p50 {statistics.median(ordered) * 1e3:.3f} ms, "
          f"p99 {p99 * 1e3:.3f} ms, max {ordered[-1] * 1e3:.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(prog="vcan-selfcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--channel", default="vcan0")
    parser.add_argument("--frames", type=int, default=200, help="round trips to time after the first frame")
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import can  # noqa: F401  (fail here with a clear line rather than in the child)
    except ImportError as error:
        print(f"vcan-run check: python-can is missing for {sys.executable}: {error}", file=sys.stderr)
        return 1
    if args.echo:
        return echo(args.channel)
    try:
        return probe(args.channel, args.frames)
    except OSError as error:
        print(f"vcan-run check: cannot use {args.channel}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
