"""charger-controller: run the cabinet described by a TOML config."""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
import sys

from controller.app import ControllerApp
from controller.config import ConfigError, load_config


def _print_event(kind: str, data: dict) -> None:
    sys.stdout.write(json.dumps({"event": kind, **data}) + "\n")
    sys.stdout.flush()


async def _run(app: ControllerApp) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    # Everything built so far lives as long as the process: keep it out of the collector's full passes, whose
    # pauses would otherwise land in the fault-reaction and V2G answer times.
    gc.collect()  # start-up garbage goes first, or it would be kept for good
    gc.freeze()
    await stop.wait()
    await app.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="charger-controller", description=__doc__)
    parser.add_argument("--config", required=True, help="cabinet TOML file")
    parser.add_argument("--events-json", action="store_true", help="print events as JSON lines on stdout")
    parser.add_argument("--can", metavar="INTERFACE:CHANNEL",
                        help="put every CAN channel of the config on this one python-can bus")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. connectors[0].meter.link.port=1502 (repeatable)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, tuple(args.set))
    except ConfigError as exc:
        print(f"charger-controller: {exc}", file=sys.stderr)
        return 2
    override = None
    if args.can:
        interface, _, channel = args.can.partition(":")
        if not interface or not channel:
            print("charger-controller: --can needs INTERFACE:CHANNEL", file=sys.stderr)
            return 2
        override = (interface, channel)
    app = ControllerApp(config, on_event=_print_event if args.events_json else None, can_override=override)
    try:
        app.build()
    except ConfigError as exc:
        print(f"charger-controller: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # e.g. a CAN interface that cannot be opened
        print(f"charger-controller: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_run(app))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
