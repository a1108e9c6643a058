"""python -m hil.csms: the rig's CSMS simulator on its own, as an outside CSMS would run (for
`charger-hil run --csms URL` and for trying a station by hand).

It answers every station, checks each frame against the 2.0.1 schemas and records the traffic as JSON
lines. With --start-after it also plays an operator: every transaction the station starts without an
authorization gets a RequestStartTransaction that many seconds later. It runs until SIGINT or SIGTERM and
exits 1 if any frame broke a schema.
"""
from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from controller.formats.cabinet.config import ConfigError
from controller.formats.command_line import OneLineArgumentParser
from hil.csms.outside import password_from_file
from hil.csms.simulator import CsmsSimulator

ID_TOKEN = "OUTSIDE-CSMS-TOKEN"


def _parser() -> OneLineArgumentParser:
    parser = OneLineArgumentParser(prog="python -m hil.csms", description="the rig's CSMS simulator, standalone")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the URL is printed)")
    parser.add_argument("--password-file", help="stations log in with this basic-auth password (first line)")
    parser.add_argument("--traffic", metavar="PATH", help="append every frame here as JSON lines")
    parser.add_argument("--url-file", metavar="PATH", help="write the URL here once listening")
    parser.add_argument("--start-after", type=float, metavar="SECONDS",
                        help="RequestStartTransaction this long after a transaction starts unauthorized")
    return parser


def _started(csms: CsmsSimulator) -> list[tuple[str, int, str]]:
    """(station, evse, transaction id) of every TransactionEvent Started without an idToken."""
    found = []
    for entry in csms.traffic:
        if entry["dir"] != "in":
            continue
        try:
            kind, _, action, payload = json.loads(entry["frame"])
        except (ValueError, TypeError):
            continue
        if kind == 2 and action == "TransactionEvent" and payload.get("eventType") == "Started" \
                and "idToken" not in payload:
            found.append((entry["station"], payload.get("evse", {}).get("id", 1),
                          payload["transactionInfo"]["transactionId"]))
    return found


async def _operator(csms: CsmsSimulator, delay_s: float) -> None:
    done: set[str] = set()
    while True:
        for station, evse, tx_id in _started(csms):
            if tx_id in done or station not in csms.stations:
                continue
            done.add(tx_id)
            await asyncio.sleep(delay_s)
            try:
                answer = await csms.request_start(station, evse, ID_TOKEN, len(done))
                print(f"RequestStartTransaction {station} evse {evse}: {answer.status}", flush=True)
            except Exception as exc:  # the station went away meanwhile: it is asked again if it restarts
                print(f"RequestStartTransaction {station} evse {evse} failed: {exc!r}", flush=True)
        await asyncio.sleep(0.1)


async def serve(args) -> int:
    password = password_from_file(args.password_file, "--password-file") if args.password_file else ""
    csms = CsmsSimulator(password=password, jsonl=Path(args.traffic) if args.traffic else None)
    url = await csms.start(args.host, args.port)
    if args.url_file:
        Path(args.url_file).write_text(url + "\n", encoding="utf-8")
    print(url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    operator = asyncio.create_task(_operator(csms, args.start_after)) if args.start_after is not None else None
    try:
        await stop.wait()
    finally:
        if operator is not None:
            operator.cancel()
            await asyncio.gather(operator, return_exceptions=True)
        await csms.stop()
    for violation in csms.violations:
        print(f"schema violation in {violation.action} ({violation.kind}): {violation.detail}", file=sys.stderr)
    return 1 if csms.violations else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.start_after is not None and not 0 <= args.start_after < 3600:
        print("python -m hil.csms: --start-after must be 0 to 3600 seconds", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(args))
    except ConfigError as exc:
        print(f"python -m hil.csms: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"python -m hil.csms: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
