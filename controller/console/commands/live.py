"""status, modules, meter, imd: what the connectors and their devices show right now."""
from __future__ import annotations

import dataclasses
import time

from controller.console.cabinet_view import ConnectorView, DeviceKind, PriceView
from controller.console.commands.arguments import chosen_connectors
from controller.console.commands.certs import expiry_warning
from controller.console.commands.network import network_line
from controller.console.formatting import cell_text, duration, table
from controller.console.registry import Command, CommandContext, CommandRegistry, Reply
from controller.store.health import health_of


def status(ctx: CommandContext, args: list[str]) -> Reply:
    rows = [_status_of(c, ctx.cabinet.prices()) for c in chosen_connectors(ctx.cabinet, args)]
    lines = [_status_text(r) for r in rows]
    watch = ctx.cabinet.store_health
    store = None if watch is None or watch.store is None else health_of(watch.store)
    if watch is not None:
        lines.append(watch.text())
    warning = expiry_warning(ctx.cabinet.certificates(), time.time())  # the SECC leaf ends within 30 days
    if warning:
        lines.append(warning)
    net = ctx.cabinet.network()
    lines.append(network_line(net))
    data = {"connectors": rows, "network": {
        "configured": net.configured, "state": net.state, "security_profile": net.security_profile,
        "boot_status": net.boot_status, "queue_length": net.queue_length}}
    if store is not None:
        data["store"] = dataclasses.asdict(store)
    elif watch is not None:  # configured, but the disk refused it at start
        data["store"] = {"ok": False, "not_open": watch.unopened_reason}
    if warning:
        data["certificate_warning"] = warning
    return Reply("\n".join(lines), data)


def _status_of(connector: ConnectorView, prices: PriceView | None) -> dict:
    snap = connector.snapshot()
    if prices is not None:  # the price a driver sees, and the open session's cost (controller/pricing/display.py)
        snap["price"] = prices.price_before_start(connector.id)
        snap["running_cost"] = prices.running_cost(connector.id)
    session = snap["session"]
    snap["enabled"] = connector.enabled
    snap["io_board_online"] = connector.io_board_online
    snap["session_s"] = None if session is None else max(0.0, time.time() - session["start_t"])
    snap["energy_kwh"] = None if session is None else session["energy_kwh"]
    groups = connector.power_groups()  # a matrix cabinet's groups on this output
    if groups is not None:
        snap["power_groups"] = groups
    return snap


def _status_text(s: dict) -> str:
    soc = "-" if s["soc"] is None else f"{s['soc']:.0f} %"
    lines = [
        f"connector {s['connector']} {s['type']}: {s['state']}{'' if s['enabled'] else ' (disabled)'}"
        f"  CP {s['cp']}  I/O board {'online' if s['io_board_online'] else 'OFFLINE'}",
        f"  {s['voltage_v']:.1f} V  {s['current_a']:.1f} A  {s['power_kw']:.2f} kW  SoC {soc}"
        f"  contactors {'closed' if s['contactors_closed'] else 'open'}  modules {'on' if s['modules_on'] else 'off'}",
    ]
    if "power_groups" in s:
        lines.append(f"  power groups: {', '.join(s['power_groups']) or 'none'}")
    session = s["session"]
    if session is None:
        lines.append("  session: none")
    else:
        lines.append(f"  session {duration(s['session_s'])}  {session['energy_kwh']:.3f} kWh"
                     f"  peak {session['peak_kw']:.1f} kW  EVCCID {session['evcc_id'] or '-'}")
    if "price" in s:
        lines.append(_price_text(s["price"], s["running_cost"]))
    lines.append(f"  faults: {', '.join(s['faults']) or 'none'}")
    return "\n".join(lines)


def _price_text(price: dict, running: dict | None) -> str:
    """`  price: 0.45 USD/kWh (default)`, with the session's cost so far once it has one."""
    line = f"  price: {price['text']} ({price['source']}{', fixed' if price['fixed'] else ''})"
    if running is not None:
        line += f"  cost {running['cost']} {running['currency']} for {running['energy_kwh']} kWh"
        if running["csms_total_cost"] is not None:
            line += f" (CSMS {running['csms_total_cost']})"
    return line


def modules(ctx: CommandContext, args: list[str]) -> Reply:
    groups = []
    texts = []
    for connector in chosen_connectors(ctx.cabinet, args):
        caps = dataclasses.asdict(connector.module_capabilities())
        states = connector.module_states()
        groups.append({"connector": connector.id, "capabilities": caps, "modules": states})
        texts.append(
            f"connector {connector.id}: {caps['healthy_count']} of {caps['total_count']} modules healthy,"
            f" up to {caps['max_voltage_v']:.0f} V {caps['max_current_a']:.0f} A {caps['max_power_w'] / 1000:.1f} kW\n"
            + table([(f"{m['address']:#04x}", m["state"], m["healthy"], _round(m["voltage"]), _round(m["current"]),
                      m["temperature"], ",".join(m["flags"]) or "-", _round(m["last_seen_age_s"]))
                     for m in states],
                    ("address", "state", "healthy", "V", "A", "temp C", "flags", "seen s ago")))
    return Reply("\n".join(texts), {"groups": groups})


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _device_text(kind: str, entry: dict) -> str:
    head = f"connector {entry['connector']} {kind}:"
    if not entry["configured"]:
        return f"{head} not configured"
    if entry["reading"] is None:
        return f"{head} no reading yet"
    values = "  ".join(f"{k} {cell_text(v)}" for k, v in entry["reading"].items() if k != "t")
    return f"{head} {'fresh' if entry['fresh'] else 'STALE'} ({entry['age_s']} s old)\n  {values}"


def _device_command(kind: DeviceKind):
    def run(ctx: CommandContext, args: list[str]) -> Reply:
        entries = [ctx.cabinet.device_reading(kind, c.id) for c in chosen_connectors(ctx.cabinet, args)]
        return Reply("\n".join(_device_text(kind, e) for e in entries), {kind: entries})
    return run


def register(registry: CommandRegistry) -> None:
    registry.add(Command("status", status, "per connector: state, CP, V, A, kW, SoC, session time, kWh",
                         "status [CONNECTOR]"))
    registry.add(Command("modules", modules, "power modules: health, output, temperature, flags",
                         "modules [CONNECTOR]"))
    registry.add(Command("meter", _device_command("meter"), "the DC energy meter's last reading",
                         "meter [CONNECTOR]"))
    registry.add(Command("imd", _device_command("imd"), "the insulation monitor's last reading",
                         "imd [CONNECTOR]"))
