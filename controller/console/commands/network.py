"""ocpp: the station's link to the operator's CSMS; and the one network line `status` ends with."""
from __future__ import annotations

import dataclasses
import time

from controller.console.cabinet_view import NetworkState
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply
from controller.console.formatting import table

DEFAULT_SHOWN = 10


def network_line(net: NetworkState) -> str:
    if not net.configured:
        return "network: OCPP off (no [ocpp] url)"
    boot = net.boot_status or "not yet"
    return (f"network: OCPP {net.state}  profile {net.security_profile}  boot {boot}"
            f"  queue {net.queue_length}")


def ocpp(ctx: CommandContext, args: list[str]) -> Reply:
    shown = DEFAULT_SHOWN
    if args:
        if len(args) > 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 50:
            raise CommandError("usage: ocpp [COUNT]  (COUNT: how many recent messages, 1-50)")
        shown = int(args[0])
    net = ctx.cabinet.network()
    data = dataclasses.asdict(net)
    data["messages"] = data["messages"][-shown:] if net.configured else []
    if not net.configured:
        return Reply("OCPP: off (the cabinet file has no [ocpp] url)", data)
    lines = [f"OCPP: {net.state}  station {net.station_id}  CSMS {net.url}",
             f"  security profile {net.security_profile}  boot {net.boot_status or 'not yet'}"
             f"  queue {net.queue_length}  connection attempts {net.connect_attempts}"]
    recent = net.messages[-shown:]
    if recent:
        lines.append(table([(time.strftime("%H:%M:%S", time.localtime(m.t)), m.direction, m.action)
                            for m in recent], ("time", "dir", "action")))
    else:
        lines.append("  no messages yet")
    return Reply("\n".join(lines), data)


def register(registry: CommandRegistry) -> None:
    registry.add(Command("ocpp", ocpp, "the CSMS link: state, security profile, boot, queue, last messages",
                         "ocpp [COUNT]", "COUNT: how many of the last messages to show (default 10, at most 50)"))
