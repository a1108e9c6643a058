"""Record every frame on a SocketCAN channel to a log file until SIGINT or SIGTERM.

    python tools/vcan/canlog.py [--ready FILE] CHANNEL LOG

LOG ending in .log is written in candump -L format, one line per frame and line-buffered, so a run killed by
a timeout still leaves the frames seen so far. It reads a raw CAN socket itself rather than through python-can:
under an emulated CPU (vcan-run's qemu-tcg) every frame's cost counts, and the logger must not take the CPU
the controller and the rig need. Other suffixes go through can.Logger (.asc, .blf, .csv ...). --ready names a
file created once the bus is open: frames sent after that moment are in the log. tools/vcan-run --log-bus
starts this script for you.
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path

CAN_FRAME = struct.Struct("=IB3x8s")  # struct can_frame: id with flags, length, data
CAN_EFF_FLAG = 0x80000000
CAN_RTR_FLAG = 0x40000000
CAN_ERR_FLAG = 0x20000000
CAN_EFF_MASK = 0x1FFFFFFF
POLL_S = 0.2  # how often a quiet bus looks at the stop flag


def candump_line(timestamp: float, channel: str, frame: bytes) -> str | None:
    """One line of candump -L, as python-can's CanutilsLogWriter writes and can.LogReader reads it."""
    can_id, length, data = CAN_FRAME.unpack(frame[:CAN_FRAME.size])
    if can_id & CAN_ERR_FLAG:
        return None
    identifier = f"{can_id & CAN_EFF_MASK:08X}" if can_id & CAN_EFF_FLAG else f"{can_id & 0x7FF:03X}"
    payload = "R" if can_id & CAN_RTR_FLAG else data[:length].hex().upper()
    return f"({timestamp:.6f}) {channel} {identifier}#{payload}\n"


def log_raw(channel: str, path: Path, ready: Path | None, stop: threading.Event) -> int:
    try:
        sock = socket.socket(socket.AF_CAN, socket.SOCK_RAW, socket.CAN_RAW)
        sock.bind((channel,))
    except (OSError, AttributeError) as error:
        print(f"canlog: cannot open {channel}: {error}", file=sys.stderr)
        return 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("w", buffering=1, encoding="ascii")
    except OSError as error:
        sock.close()
        print(f"canlog: cannot write {path}: {error}", file=sys.stderr)
        return 1
    sock.settimeout(POLL_S)
    if ready is not None:
        ready.touch()
    with sock, out:
        while not stop.is_set():
            try:
                frame = sock.recv(CAN_FRAME.size)
            except (TimeoutError, InterruptedError):
                continue
            line = candump_line(time.time(), channel, frame)
            if line is not None:
                out.write(line)
    return 0


def log_with_python_can(channel: str, path: Path, ready: Path | None, stop: threading.Event) -> int:
    import can

    try:
        bus = can.Bus(interface="socketcan", channel=channel)
    except (OSError, can.CanError) as error:
        print(f"canlog: cannot open {channel}: {error}", file=sys.stderr)
        return 1
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = can.Logger(path)
    except (OSError, ValueError) as error:
        bus.shutdown()
        print(f"canlog: cannot write {path}: {error}", file=sys.stderr)
        return 1
    notifier = can.Notifier(bus, [writer])
    if ready is not None:
        ready.touch()
    stop.wait()
    notifier.stop()
    writer.stop()
    bus.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canlog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ready", type=Path, help="file created once the bus is open")
    parser.add_argument("channel", help="SocketCAN interface, e.g. vcan0")
    parser.add_argument("log", type=Path, help="log file; .log gives candump format")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.log.suffix.lower() == ".log":
        return log_raw(args.channel, args.log, args.ready, stop)
    return log_with_python_can(args.channel, args.log, args.ready, stop)


if __name__ == "__main__":
    sys.exit(main())
