"""authorize, start, stop, enable, disable, clear: the technician's requests to a connector.

They only ask the connector, which decides; none of them touches the hardware. Without OCPP, `start`
means: let the car that is plugged in and waiting go ahead (authorize it), after checking that the
connector can serve it. A session can only begin when the car asks for it; a car that has finished its
session must be re-plugged (or start a new session itself).
"""
from __future__ import annotations

from typing import Awaitable

from controller.connector.table import SESSION_STATES
from controller.console.cabinet_view import ConnectorView
from controller.console.commands import id_token
from controller.console.commands.arguments import chosen_connectors, one_connector
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply
from controller.faults import CATALOGUE

WAITING_STATES = ("plugged", "negotiating", "authorizing")


def _state(c: ConnectorView) -> dict:
    return {"connector": c.id, "state": c.state, "enabled": c.enabled, "authorized": c.authorized,
            "faults": list(c.active_faults)}


def _id_token(args: list[str]) -> str | None:
    """The optional idToken after the connector (OCPP: at most 36 printable characters)."""
    if len(args) > 2:
        raise CommandError(f"unexpected argument {args[2][:20]!r}")
    if len(args) < 2:
        return None
    token = args[1]
    if len(token) > 36 or not token.isprintable():
        raise CommandError("an idToken is at most 36 printable characters")
    return token


def _let_go(ctx: CommandContext, c: ConnectorView, token: str | None) -> None:
    """Authorize the car, unless an OCPP reservation keeps the connector for another idToken."""
    refusal = ctx.cabinet.reservation_refusal(c.id, token)
    if refusal:
        raise CommandError(f"connector {c.id}: {refusal}")
    c.authorize()
    if token is not None:
        ctx.cabinet.token_authorized(c.id, token)


def authorize(ctx: CommandContext, args: list[str]) -> Reply | Awaitable[Reply]:
    if len(args) > 1:  # authorize CONNECTOR IDTOKEN [TYPE]: checked like a card (commands/id_token.py)
        return id_token.present(ctx, one_connector(ctx.cabinet, args[:1]), args[1:])
    c, token = one_connector(ctx.cabinet, args), None
    if c.state not in WAITING_STATES:
        raise CommandError(f"connector {c.id} is {c.state}: no car waits for authorization")
    _let_go(ctx, c, token)
    return Reply(f"connector {c.id}: authorized ({c.state})", _state(c), c.id)


def start(ctx: CommandContext, args: list[str]) -> Reply:
    c, token = one_connector(ctx.cabinet, args[:1]), _id_token(args)
    cid, state = c.id, c.state
    if not c.enabled:
        raise CommandError(f"connector {cid} is disabled; enable it first: enable {cid}")
    if state in ("unavailable", "emergency", "error_shutdown"):
        faults = ", ".join(c.active_faults) or "none"
        raise CommandError(f"connector {cid} is {state} (faults: {faults}); fix or clear them first")
    if state == "available":
        raise CommandError(f"connector {cid}: no car plugged in")
    if state == "session_end":
        raise CommandError(f"connector {cid}: the session has ended; the car must be re-plugged or start again")
    if state not in WAITING_STATES:
        raise CommandError(f"connector {cid}: a session is already in {state}")
    _let_go(ctx, c, token)
    return Reply(f"connector {cid}: authorized; the session goes ahead as the car asks ({state})", _state(c), cid)


def stop(ctx: CommandContext, args: list[str]) -> Reply:
    c = one_connector(ctx.cabinet, args)
    if not c.request_stop("console_stop"):
        raise CommandError(f"connector {c.id} is {c.state}: no session to stop")
    return Reply(f"connector {c.id}: stop requested; the car is asked to stop (forced if it does not)",
                 _state(c), c.id)


def enable(ctx: CommandContext, args: list[str]) -> Reply:
    c = one_connector(ctx.cabinet, args)
    c.set_enabled(True)  # from a session or a fault state only the flag changes: it counts once they end
    note = "" if c.state != "unavailable" else \
        f"; still unavailable (I/O board {'online' if c.io_board_online else 'offline'}, faults: " \
        f"{', '.join(c.active_faults) or 'none'})"
    return Reply(f"connector {c.id}: enabled, {c.state}{note}", _state(c), c.id)


def disable(ctx: CommandContext, args: list[str]) -> Reply:
    maintenance = bool(args) and args[-1].lower() == "maintenance"
    c = one_connector(ctx.cabinet, args[:-1] if maintenance else args)
    # from a session or a fault state only the flag changes: it keeps the connector out once they end
    c.set_enabled(False, maintenance=maintenance)
    note = ""
    if c.state in SESSION_STATES:
        note = "; the running session goes on and the connector stays out of service after it"
    elif c.state in ("emergency", "error_shutdown"):
        note = (f" (faults: {', '.join(c.active_faults) or 'none'}); it stays out of service once the fault is "
                f"cleared, until: enable {c.id}")
    if maintenance:
        note += "; scheduled maintenance: the outage is excluded from the uptime"
    return Reply(f"connector {c.id}: disabled, {c.state}{note}", {**_state(c), "maintenance": maintenance},
                 c.id)


def clear(ctx: CommandContext, args: list[str]) -> Reply:
    cleared = []
    for c in chosen_connectors(ctx.cabinet, args):
        codes = c.clear_latched()
        # a latched fault whose condition is still there (e-stop still pressed) cannot be cleared
        present = [code for code in c.active_faults if CATALOGUE[code].clears == "latched"]
        cleared.append({**_state(c), "cleared": codes, "still_present": present})
    text = "\n".join(
        f"connector {e['connector']}: "
        + (f"cleared {', '.join(e['cleared'])}" if e["cleared"] else "nothing cleared" if e["still_present"]
           else "no latched faults")
        + (f"; still present: {', '.join(e['still_present'])} (remove the cause first)" if e["still_present"] else "")
        + f"; {e['state']}"
        for e in cleared)
    return Reply(text, {"connectors": cleared}, cleared[0]["connector"] if len(cleared) == 1 else None)


def register(registry: CommandRegistry) -> None:
    tech = "technician"
    registry.add(Command("authorize", authorize, "authorize the car waiting on a connector",
                         "authorize [CONNECTOR] | authorize CONNECTOR IDTOKEN [TYPE]",
                         "With an idToken (type ISO14443 unless given) the token is checked as a card at the "
                         "reader would be: with OCPP by the CSMS, the local list, the cache or the offline rules; "
                         "a refused token leaves the car waiting. Shown before the car is plugged in, an accepted "
                         "token waits 60 s for it; shown again while the charge it started runs, it stops it. A connector "
                         "reserved by the CSMS lets only the reserved idToken charge.",
                         role=tech))
    registry.add(Command("start", start, "let the plugged car's session go ahead", "start [CONNECTOR [ID_TOKEN]]",
                         "Without OCPP, start authorizes the car that is plugged in and waiting, after checking"
                         " the connector can serve it. The car itself must ask for the session. A connector"
                         " reserved by the CSMS needs the reserved ID_TOKEN.", role=tech))
    registry.add(Command("stop", stop, "ask the car to stop charging", "stop [CONNECTOR]",
                         "The car is asked to stop; if it does not within 5 s the charger stops anyway.",
                         role=tech))
    registry.add(Command("enable", enable, "put a connector back in service", "enable [CONNECTOR]", role=tech))
    registry.add(Command("disable", disable, "take a connector out of service",
                         "disable [CONNECTOR] [maintenance]",
                         "A running session is not cut: it goes on to its end. With `maintenance` the outage is "
                         "booked as scheduled maintenance, which NEVI excludes from the uptime.", role=tech))
    registry.add(Command("clear", clear, "clear latched faults (e-stop, welded contactor...)",
                         "clear [CONNECTOR]", role=tech))
