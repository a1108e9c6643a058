"""charger-controller: run the cabinet described by a TOML config.

Exit status: 0 after an orderly stop (SIGTERM, as systemd sends, or SIGINT/Ctrl-C: both power every
connector off first, then close the store); 2 for input a person must fix (config, options, CAN channel,
store file, missing data files), printed as one line without a traceback; 1 when the start failed otherwise;
3 after an OCPP Reset from the CSMS (every connector powered off, the store closed): start it again (the systemd
unit does, RestartForceExitStatus=3).
Under systemd (Type=notify) it reports READY/STATUS/STOPPING and pings the watchdog (controller/systemd_notify.py).
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from controller.app import ControllerApp
from controller.formats.cabinet.config import ConfigError, load_config
from controller.formats.can.dbc import DbcNotFound
from controller.formats.command_line_checks import can_channel, check_can_interface, log_level
from controller.formats.events import Event, PhaseChanged
from controller.formats.exit_status import RESTART_REQUESTED
from controller.store import StoreError
from controller.systemd_notify import SystemdNotifier, WatchdogPinger
from controller.formats.command_line import OneLineArgumentParser

PROG = "charger-controller"


def _print_event(event: Event) -> None:
    sys.stdout.write(event.to_line() + "\n")
    sys.stdout.flush()


class _StatusLine:
    """systemd's STATUS= follows every connector's state: `systemctl status` shows e.g. "1 charging, 2 available"."""

    def __init__(self, notifier: SystemdNotifier, app: ControllerApp):
        self.notifier = notifier
        self.states = {c.cfg.id: c.state for c in app.connectors}

    def __call__(self, event: Event) -> None:
        if isinstance(event, PhaseChanged) and self.notifier.enabled:
            self.states[event.connector] = event.state
            self.notifier.status("running: " + ", ".join(f"{cid} {state}" for cid, state in sorted(self.states.items())))


def _health(app: ControllerApp) -> str | None:
    """The same verdict that keeps the I/O board heartbeat going (controller/task_supervisor.py)."""
    ended = app.stopped_task()
    if ended:
        return f"task {ended} ended"
    supervisor = getattr(app, "supervisor", None)
    if supervisor is not None and supervisor.held:
        return "the task supervisor holds the I/O board heartbeat: " + "; ".join(supervisor.failures[-1:])
    return None


async def _run(app: ControllerApp, notifier: SystemdNotifier) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    notifier.status("starting: opening buses and devices")
    gc.collect()  # build()'s garbage, before start() begins the I/O board heartbeat: a full pass takes tens of ms
    try:
        await app.start()
    except BaseException:
        # half started (e.g. a missing PLC interface): power off and close what was opened, or the bus threads
        # would keep the process alive after the error
        await app.stop()
        raise
    # Everything built so far lives as long as the process: keep it out of the collector's full passes, whose
    # pauses would otherwise land in the fault-reaction and V2G answer times.
    gc.collect(1)  # start()'s own garbage goes first, or it would be kept for good; young objects only, so the
    gc.freeze()    # heartbeat running meanwhile is not held up by a full pass
    notifier.ready(f"running: {len(app.connectors)} connector(s) of {app.config.name}")
    app.subscribe(_StatusLine(notifier, app))
    pinger = asyncio.create_task(WatchdogPinger(notifier, lambda: _health(app)).run(), name="systemd-watchdog")
    waits = [asyncio.create_task(stop.wait()), asyncio.create_task(app.restart_requested.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        pinger.cancel()
        notifier.stopping()
        await app.stop()  # every connector powered off first, whatever the reason
    return RESTART_REQUESTED if app.restart_requested.is_set() and not stop.is_set() else 0


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before the loop runs: nothing was energized yet
        print(f"{PROG}: interrupted during start-up", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="cabinet TOML file")
    parser.add_argument("--events-json", action="store_true", help="print events as JSON lines on stdout")
    parser.add_argument("--can", metavar="INTERFACE:CHANNEL",
                        help="put every CAN channel of the config on this one python-can bus")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. connectors[0].meter.link.port=1502 (repeatable)")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default), ERROR, CRITICAL")
    args = parser.parse_args(argv)
    try:
        level = log_level(args.log_level)
        override = can_channel(args.can) if args.can else None
        config = load_config(args.config, tuple(args.set))
        if override is None:
            for name, channel in config.can.items():
                check_can_interface(channel.interface, channel.channel, f"can.{name}")
    except ConfigError as exc:
        return _fail(str(exc))
    # stderr: under systemd every line goes to the journal (StandardError=journal)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    notifier = SystemdNotifier()
    app = ControllerApp(config, on_event=_print_event if args.events_json else None, can_override=override)
    try:
        app.build()
    except (ConfigError, StoreError, DbcNotFound) as exc:
        notifier.status(f"failed: {exc}")
        return _fail(str(exc))
    except Exception as exc:  # e.g. a CAN interface that cannot be opened
        notifier.status(f"failed: {exc}")
        print(f"{PROG}: cannot start: {exc}", file=sys.stderr)
        return 1
    status = 0
    try:
        status = asyncio.run(_run(app, notifier))
    except KeyboardInterrupt:
        pass
    except ConfigError as exc:  # found while starting, e.g. [v2g] without an interface per connector
        notifier.status(f"failed: {exc}")
        return _fail(str(exc))
    except OSError as exc:  # e.g. a PLC interface that does not exist
        notifier.status(f"failed: {exc}")
        print(f"{PROG}: cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        notifier.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
