"""charger-hil: the hardware-in-the-loop rig.

  charger-hil run --scenario NAME [--setup NAME] [--report PATH] [--separate-process] [--can IF:CH]
                  [--protocol din|iso2] [--link loopback|veth] [--pcap PATH] [--car PROFILE]
  charger-hil run --setup NAME --external-evcc 'COMMAND {iface}' [--expect charged|refused] [--report PATH]
  charger-hil replay CAPTURE [--report PATH] [--setup NAME] [--speed X]
  charger-hil rig --setup NAME --can IF:CH --secc HOST:PORT [--scenario NAME] [--report PATH]
  charger-hil run ... --inject KIND[:ARG]@PHASE[+SECONDS] (repeatable; faults at the wires, hil/injection)
  charger-hil run ... --csms URL [--station-id ID] [--csms-password PW | --csms-password-file F]
                  [--csms-root-file PEM] [--auth-wait SECONDS]   (an outside CSMS; the rig starts none)
  charger-hil run ... --ocpp-profile 1|2|3   (any scenario with OCPP to the rig's CSMS: ws, wss, mutual TLS)
  charger-hil inject-list
  charger-hil list
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys

from controller.formats.cabinet.loader import ConfigError
from controller.formats.can.dbc import DbcNotFound, check_installed, load_dbc
from hil.ev.evcc.profile import load_profile
from hil.injection.kinds import listing as inject_listing
from hil.injection.spec import InjectionSpecError, parse_injections
from hil.link.netns import NetnsUnavailable
from hil.progress import Progress, files_lines, summary
from hil.interrupted_run import EXIT_INTERRUPTED, INTERRUPTED, run_until_interrupted
from hil.option_checks import check_options
from hil.csms.outside import AUTH_WAIT_S, from_args as outside_csms_of
from hil.runner import START_TIMEOUT_S, judge, run_scenario
from hil.plant_controls import hold_with_controls
from hil.scenarios import SCENARIOS, ScenarioRefused
from hil.setup import load_setup
from controller.formats.command_line import OneLineArgumentParser
from hil.sim.power_vendors import simulator_dbcs


def _can(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    interface, _, channel = text.partition(":")
    if not interface or not channel:
        raise ConfigError("--can", "expected INTERFACE:CHANNEL, e.g. udp_multicast:239.74.163.2")
    return interface, channel


def _address(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError("--secc", "expected HOST:PORT, e.g. [::1]:47100")
    return host.strip("[]"), int(port)


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0 (argparse turns the error into one line, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def _run(args, separate_process: bool, external_secc: tuple[str, int] | None = None) -> int:
    scenario = SCENARIOS.get(args.scenario)
    if scenario is None:
        print(f"charger-hil: unknown scenario {args.scenario!r} (known: {', '.join(SCENARIOS)})", file=sys.stderr)
        return 2
    setup = load_setup(args.setup, tuple(args.set or ()))
    if args.board_watchdog is not None:
        setup = dataclasses.replace(setup, board_watchdog_s=args.board_watchdog)
    progress = None if args.quiet else Progress()
    link_mode = getattr(args, "link", "loopback")
    # V2G on every connector in every mode; where SLAC frames cannot reach the controller (a separate process
    # over loopback, an external controller) the car goes to the SECC's test door on ::1 (hil/ev/evcc/rig_link.py)
    protocol = getattr(args, "protocol", None) or ("iso2" if scenario.v2g_tls else "din")
    if getattr(args, "car", None):
        load_profile(args.car)  # a bad profile fails here, before the rig opens its buses
    hold = hold_with_controls if getattr(args, "hold", False) else None
    report, problems = asyncio.run(run_until_interrupted(  # Ctrl-C: clean stop, partial report, exit 130
        scenario.name, setup, separate_process=separate_process, can_override=_can(args.can), progress=progress,
        external_secc=external_secc, modbus_base_port=getattr(args, "modbus_base_port", 0),
        protocol=protocol, link_mode=link_mode, pcap=getattr(args, "pcap", None),
        car_profile=getattr(args, "car", None),
        console_link=getattr(args, "console_link", None), hold=hold, report_path=args.report,
        injections=parse_injections(getattr(args, "inject", None)), start_timeout_s=args.start_timeout,
        outside_csms=outside_csms_of(args), ocpp_profile=getattr(args, "ocpp_profile", None)))
    if args.report:
        with open(args.report, "w") as fh:
            json.dump({**report, "problems": problems}, fh, indent=2)
    print(summary(report, problems))
    print("\n".join(files_lines(args.report, report)))
    if report["result"] == INTERRUPTED:
        return EXIT_INTERRUPTED
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="charger-hil", description="hardware-in-the-loop rig")
    parser.add_argument("--log-level", default="WARNING")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("run", "run a scenario against the controller"),
                           ("rig", "run the rig and a scenario against a controller started separately")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--scenario", default="dc-session", help=", ".join(SCENARIOS))
        p.add_argument("--setup", default="desk",
                       help="a setup's name (hil/setups/NAME) or the path of a cabinet file of one's own")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a cabinet key, as charger-controller --set does (repeatable)")
        p.add_argument("--report", help="write the JSON report here, its time series (CSV) and plot (PNG) beside it")
        p.add_argument("--can", help="put every CAN channel on this python-can bus (INTERFACE:CHANNEL)")
        p.add_argument("--quiet", action="store_true", help="no live progress")
        p.add_argument("--start-timeout", type=positive_seconds, default=START_TIMEOUT_S, metavar="SECONDS",
                       help=f"wait this long for every connector to become available (default {START_TIMEOUT_S:g}; "
                            "more for a controller in an emulated guest)")
        p.add_argument("--board-watchdog", type=positive_seconds, metavar="SECONDS",
                       help="the simulated I/O boards' heartbeat watchdog (default 0.3 s, as the real board); "
                            "longer only for a controller on an emulated CPU")
        p.add_argument("--hold", action="store_true",
                       help="after the scenario keep controller and rig running until interrupted, with the "
                            "plant's controls on standard input (e-stop, plug, unplug, SoC; type help)")
        p.add_argument("--inject", action="append", metavar="KIND[:ARG]@PHASE[+SECONDS]",
                       help="make a fault at the wires on the first connector when it enters PHASE (repeatable; "
                            "charger-hil inject-list)")
        p.add_argument("--console-link", metavar="PATH",
                       help="expose the controller's service console on a pty linked at PATH")
        if name == "run":
            p.add_argument("--separate-process", action="store_true",
                           help="start charger-controller as a child process")
            p.add_argument("--protocol", choices=("din", "iso2"),
                           help="what the car offers on every connector: DIN 70121 (default) or ISO 15118-2")
            p.add_argument("--link", choices=("loopback", "veth"), default="loopback",
                           help="V2G link: in-process SLAC and ::1 (default; with --separate-process: the "
                                "controller's test door on ::1, no SLAC), or two network namespaces (root)")
            p.add_argument("--pcap", metavar="PATH",
                           help="record every connector's V2G link (SLAC, SDP, V2GTP) as one pcap")
            p.add_argument("--car", metavar="PROFILE",
                           help="car profile (hil/ev/profiles/NAME.toml or a path); default: the protocol's")
            p.add_argument("--external-evcc", metavar="'COMMAND {iface}'",
                           help="an outside EVCC on the first connector, started in the car's network namespace "
                                "after the rig's SLAC ({iface}: the car's interface); veth link, root")
            p.add_argument("--expect", choices=("charged", "refused"), default="charged",
                           help="with --external-evcc: how the session must end")
            p.add_argument("--csms", metavar="URL",
                           help="point the controller at this CSMS (ws://... or wss://..., without the station "
                                "id) instead of the rig's own; the rig then starts none")
            p.add_argument("--station-id", metavar="ID", help="with --csms: the station's identity (default: "
                                                              "the cabinet's ocpp.station_id or its name)")
            p.add_argument("--csms-password", metavar="PW",
                           help="with --csms: the basic-auth password (16-40 characters); the controller gets "
                                "it in a private file, never on a command line")
            p.add_argument("--csms-password-file", metavar="FILE", help="with --csms: the password's file "
                                                                        "(first line) instead")
            p.add_argument("--csms-root-file", metavar="PEM",
                           help="with a wss:// --csms: the CSMS's root certificate(s) (security profile 2)")
            p.add_argument("--auth-wait", type=positive_seconds, default=AUTH_WAIT_S, metavar="SECONDS",
                           help=f"with --csms: how long a car waiting for its authorization keeps asking "
                                f"(Ongoing) for the CSMS, e.g. a RequestStartTransaction (default {AUTH_WAIT_S:g})")
            p.add_argument("--ocpp-profile", type=int, choices=(1, 2, 3),
                           help="any scenario with OCPP to the rig's CSMS over this security profile (1 ws + basic "
                                "auth, 2 wss + basic auth, 3 mutual TLS); its frames and transactions join the verdict")
        else:
            p.add_argument("--secc", required=True, metavar="HOST:PORT",
                           help="where the controller's first connector answers SDP: its [v2g] test door "
                                "(test_door_direct_tcp = true, sdp_port = PORT); connector i at PORT+i-1")
            p.add_argument("--modbus-base-port", type=int, default=0, metavar="PORT",
                           help="serve connector i's meter on PORT+2i and its IMD on PORT+2i+1 (127.0.0.1)")
    p = sub.add_parser("replay", help="replay a real car's V2G sessions (DIN or ISO 15118-2) from a capture against the controller")
    p.add_argument("capture", help="a pcap or pcapng file with a car's V2G session")
    p.add_argument("--report", help="write the JSON report here")
    p.add_argument("--setup", default="desk")
    p.add_argument("--speed", type=float, default=1.0, help="replay this many times faster than the car did")
    sub.add_parser("list", help="list scenarios and setups")
    sub.add_parser("inject-list", help="list the faults --inject makes: kind, argument, phases, codes expected")
    args = parser.parse_args(argv)
    try:
        check_options(args)  # before the run: a typo must not cost a 20-minute run
        outside_csms_of(args)
        if getattr(args, "ocpp_profile", None) and getattr(args, "csms", None):
            raise ConfigError("--ocpp-profile", "is for the rig's own CSMS; --csms points at an outside one")
        parse_injections(getattr(args, "inject", None))
        check_installed()  # and a broken install must not fail with buses half open
        for name in sorted(simulator_dbcs()):  # the vendors' simulators declare their own DBCs
            load_dbc(name)
    except (ConfigError, DbcNotFound, InjectionSpecError) as exc:
        print(f"charger-hil: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "inject-list":
            print("\n".join(inject_listing()))
            return 0
        if args.command == "list":
            for s in SCENARIOS.values():
                print(f"{s.name:<20} {s.description}")
            return 0
        if args.command == "run" and args.external_evcc:
            from hil.external_evcc import main_external_evcc
            return main_external_evcc(args)
        if args.command == "run":
            return _run(args, args.separate_process)
        if args.command == "replay":
            from hil.replay import main_replay
            if args.speed <= 0:
                raise ConfigError("--speed", "must be above 0")
            return main_replay(args.capture, args.report, args.setup, args.speed)
        return _run(args, False, _address(args.secc))
    except ConfigError as exc:
        print(f"charger-hil: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before or after a run's own handling (setup loading, replay)
        print("charger-hil: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except DbcNotFound as exc:  # a broken install: the simulators speak through the same DBCs
        print(f"charger-hil: {exc}", file=sys.stderr)
        return 2
    except ScenarioRefused as exc:
        print(f"charger-hil: {exc}", file=sys.stderr)
        return 2
    except TimeoutError as exc:
        print(f"charger-hil: {exc}; is the controller on the rig's CAN bus?", file=sys.stderr)
        return 1
    except NetnsUnavailable as exc:
        print(f"charger-hil: --link veth cannot run here: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
