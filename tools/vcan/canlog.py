"""Record every frame on a SocketCAN channel to a log file until SIGINT or SIGTERM.

    python tools/vcan/canlog.py [--ready FILE] CHANNEL LOG

LOG ending in .log is written in candump -L format (python-can's CanutilsLogWriter), one line per frame and
line-buffered, so a run killed by a timeout still leaves the frames seen so far. Other suffixes go through
can.Logger (.asc, .blf, .csv ...). --ready names a file created once the bus is open: frames sent after
that moment are in the log. tools/vcan-run --log-bus starts this script for you.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import can


def open_writer(path: Path, channel: str) -> can.Listener:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".log":
        return can.CanutilsLogWriter(path.open("w", buffering=1, encoding="ascii"), channel=channel)
    return can.Logger(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canlog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ready", type=Path, help="file created once the bus is open")
    parser.add_argument("channel", help="SocketCAN interface, e.g. vcan0")
    parser.add_argument("log", type=Path, help="log file; .log gives candump format")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        bus = can.Bus(interface="socketcan", channel=args.channel)
    except (OSError, can.CanError) as error:
        print(f"canlog: cannot open {args.channel}: {error}", file=sys.stderr)
        return 1
    try:
        writer = open_writer(args.log, args.channel)
    except (OSError, ValueError) as error:
        bus.shutdown()
        print(f"canlog: cannot write {args.log}: {error}", file=sys.stderr)
        return 1
    notifier = can.Notifier(bus, [writer])
    if args.ready is not None:
        args.ready.touch()
    stop.wait()
    notifier.stop()
    writer.stop()
    bus.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
