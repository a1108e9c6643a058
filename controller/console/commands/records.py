"""faults, log, sessions, uptime: what happened, from the store when there is one, else from memory.

Store queries and the formatting of their rows run in a worker thread (a 200-row log takes several
milliseconds); what is read from the connectors is copied on the event loop first.
"""
from __future__ import annotations

import asyncio
import time

from controller.console.commands.arguments import chosen_connectors, count
from controller.console.formatting import duration, event_text, table, wall_time
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply
from controller.faults import CATALOGUE, mrec


def _limit(args: list[str], default: int, maximum: int) -> int:
    if len(args) > 1:
        raise CommandError(f"unexpected argument {args[1][:20]!r}")
    return count(args[0], "the number of rows", maximum) if args else default


# ---- faults -------------------------------------------------------------------------------------------
async def faults(ctx: CommandContext, args: list[str]) -> Reply:
    limit = _limit(args, 10, 100)
    active = [{"connector": c.id, "code": f.code, "severity": f.severity, "clears": CATALOGUE[f.code].clears,
               "raised_t": f.t, "detail": f.detail, "text": CATALOGUE[f.code].text}
              for c in ctx.cabinet.connectors for f in c.active_faults.values()]
    cabinet = ctx.cabinet.store_health  # the cabinet-wide fault: no connector
    if cabinet is not None and cabinet.active is not None:
        f = cabinet.active
        active.append({"connector": "-", "code": f.code, "severity": f.severity, "clears": f.spec.clears,
                       "raised_t": f.t, "detail": f.detail, "text": f.spec.text})
    store = ctx.cabinet.store
    if store is None:
        memory = [{"code": f.code, "connector": f.connector_id, "severity": f.severity, "detail": f.detail,
                   "raised_t": f.t, "cleared_t": None, "active": c.active_faults.get(f.code) is f}
                  for c in ctx.cabinet.connectors for f in c.fault_history]
    return await asyncio.to_thread(
        lambda: _faults_reply(active, store.fault_history(limit) if store is not None
                              else sorted(memory, key=lambda row: row["raised_t"], reverse=True)[:limit],
                              limit, store is not None))


def _faults_reply(active: list[dict], history: list[dict], limit: int, from_store: bool) -> Reply:
    for f in [*active, *history]:  # the ChargeX MREC the CSMS is told (NotifyEvent techCode), where one applies
        f["mrec"] = _mrec_text(f["code"])
    lines = ["active faults: none" if not active else "active faults:"]
    for f in active:
        lines.append(f"  connector {f['connector']}  {f['code']}  {f['severity']}  clears {f['clears']}"
                     f"  since {wall_time(f['raised_t'])}  {f['detail']}")
        lines.append(f"    {'[' + f['mrec'] + '] ' if f['mrec'] else ''}{f['text']}")
    lines.append(f"last {limit} faults{'' if from_store else ' (since start; no store)'}:")
    lines.append(table([(wall_time(h["raised_t"]), h["connector"], h["code"], h["mrec"] or "-", h["severity"],
                         "active" if h["active"] else wall_time(h["cleared_t"]), h["detail"]) for h in history],
                       ("raised", "conn", "code", "mrec", "severity", "cleared", "detail")))
    return Reply("\n".join(lines), {"active": active, "history": history, "from_store": from_store})


def _mrec_text(code: str) -> str:
    """e.g. "MREC CX008 EmergencyStop"; empty when no MREC applies."""
    found = mrec(code)
    return f"MREC {found[0]} {found[1]}" if found else ""


# ---- log ----------------------------------------------------------------------------------------------
async def log_command(ctx: CommandContext, args: list[str]) -> Reply:
    limit = _limit(args, 20, 100)
    store = ctx.cabinet.store
    memory = None if store is not None else list(ctx.recent_events)[-limit:][::-1]
    return await asyncio.to_thread(
        lambda: _log_reply(store.recent_events(limit) if store is not None else memory, store is not None))


def _log_reply(events: list[dict], from_store: bool) -> Reply:
    rows = [(wall_time(e["t"]), e.get("connector"), e["kind"], event_text(e["kind"], e.get("message") or "",
                                                                          e.get("data")))
            for e in reversed(events)]
    return Reply(table(rows, ("time", "conn", "kind", "message")), {"events": events, "from_store": from_store})


# ---- sessions -----------------------------------------------------------------------------------------
async def sessions(ctx: CommandContext, args: list[str]) -> Reply:
    limit = _limit(args, 10, 50)
    store = ctx.cabinet.store
    if store is None:
        rows = []
        for c in ctx.cabinet.connectors:
            for record, status in ((c.session, "running"), (c.last_session, "ended")):
                if record is not None:
                    row = record.to_json()
                    row.update(status=status, error_codes=row.pop("fault_codes"),
                               duration_s=None if row["end_t"] is None else row["end_t"] - row["start_t"])
                    rows.append(row)
        rows.sort(key=lambda r: r["start_t"], reverse=True)
    return await asyncio.to_thread(
        lambda: _sessions_reply(store.recent_sessions(limit) if store is not None else rows, store is not None))


def _sessions_reply(rows: list[dict], from_store: bool) -> Reply:
    text = table([(r.get("id", r.get("session_id")), r["connector"], wall_time(r["start_t"]),
                   duration(r["duration_s"] if r["end_t"] is not None else time.time() - r["start_t"]),
                   round(r["energy_kwh"], 3), r["peak_kw"], r["status"], r["stop_reason"] or "-",
                   ",".join(r["error_codes"]) or "-") for r in rows],
                 ("id", "conn", "start", "duration", "kWh", "peak kW", "status", "stop reason", "errors"))
    return Reply(text, {"sessions": rows, "from_store": from_store})


# ---- uptime -------------------------------------------------------------------------------------------
async def uptime(ctx: CommandContext, args: list[str]) -> Reply:
    ids = [c.id for c in chosen_connectors(ctx.cabinet, args)]
    started = ctx.cabinet.started_t
    running_s = None if started is None else time.monotonic() - started
    store = ctx.cabinet.store
    ports = [] if store is None else await asyncio.to_thread(
        lambda: [{"connector": cid, **store.uptime(cid)} for cid in ids])
    lines = [f"controller running for {duration(running_s)}"]
    if store is None:
        lines.append("no store configured: NEVI port uptime is not kept")
    else:
        lines.append(table([(p["connector"], f"{p['percent']:.3f} %", round(p["outage_min"], 1),
                             round(p["excluded_min"], 1), round(p["window_min"] / 1440, 1)) for p in ports],
                           ("conn", "uptime", "outage min", "excluded min", "window days")))
    return Reply("\n".join(lines), {"controller_running_s": running_s, "ports": ports,
                                    "from_store": store is not None})


def register(registry: CommandRegistry) -> None:
    registry.add(Command("faults", faults, "active faults and the fault history with times", "faults [ROWS]"))
    registry.add(Command("log", log_command, "recent events, newest last", "log [ROWS]"))
    registry.add(Command("sessions", sessions, "recent sessions: kWh, peak kW, stop reason, errors",
                         "sessions [ROWS]"))
    registry.add(Command("uptime", uptime, "NEVI port uptime over the last 12 months, per connector",
                         "uptime [CONNECTOR]",
                         "percent = (525600 - (outage - excluded minutes)) / 525600 x 100, over the"
                         " store's window (never before the cabinet was commissioned)."))
