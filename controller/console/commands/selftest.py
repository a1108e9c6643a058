"""selftest: check a connector's hardware with no car connected.

The connector is taken out of service for the test (so no car can start a session meanwhile; the store
books the short outage) and put back as it was. Steps: the I/O board answers; the DC contactors close
and open again with matching feedback (modules stay off, so the cable is dead); every power module
answers without a fault; the meter has a fresh reading and the IMD passes its own self-test, when they
are configured. The contactors are commanded open at the end whatever happened.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from controller.console.commands.arguments import one_connector
from controller.console.commands.live import device_reading
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply

IDLE_STATES = ("available", "unavailable")
FAULT_STATES = ("emergency", "error_shutdown")
CAR_CP_STATES = ("B", "C", "D")
FEEDBACK_POLL_S = 0.02
IMD_SELFTEST_TIMEOUT_S = 20.0


class CarPlugged(Exception):
    pass


async def selftest(ctx: CommandContext, args: list[str]) -> Reply:
    c = one_connector(ctx.app, args)
    cid = c.cfg.id
    if c.cp_state in CAR_CP_STATES or c.session is not None:
        raise CommandError(f"connector {cid} is {c.state} with CP {c.cp_state}: the selftest needs no car connected")
    if c.state in FAULT_STATES:
        faults = ", ".join(c.active_faults) or "none left"
        raise CommandError(f"connector {cid} is in {c.state} (faults: {faults}): remove the cause and clear the "
                           f"faults first (clear {cid}); the selftest runs on an idle connector")
    if c.state not in IDLE_STATES:
        raise CommandError(f"connector {cid} is {c.state}: the selftest runs on an idle connector")
    steps: list[dict] = []

    def step(name: str, ok: bool, detail: str) -> None:
        steps.append({"step": name, "ok": ok, "detail": detail})
        if not ctx.json_mode:
            ctx.write_line(f"  {name:<12} {'ok  ' if ok else 'FAIL'}  {detail}")

    was_enabled, was_maintenance = c.enabled, c.maintenance
    c.set_enabled(False, maintenance=True)  # a technician's test on site: maintenance, excluded from uptime
    try:
        online = bool(c.io.online)
        step("io_board", online, f"online, CP {c.cp_state}" if online else "no status from the I/O board")
        if online:
            await _contactors(ctx, c, step)
        _modules(ctx.app.groups[c.cfg.id], step)
        await _devices(ctx.app, c.cfg.id, step)
    except CarPlugged:
        step("aborted", False, "a car was plugged in during the test")
    finally:
        c.open_contactors()
        if was_enabled:
            c.set_enabled(True)
        else:
            c.maintenance = was_maintenance
    data = {"connector": c.cfg.id, "passed": all(s["ok"] for s in steps), "steps": steps, "state": c.state}
    failed = [f"{s['step']}: {s['detail']}" for s in steps if not s["ok"]]
    if failed:
        raise CommandError(f"selftest of connector {c.cfg.id} failed: " + "; ".join(failed), data)
    return Reply(f"selftest of connector {c.cfg.id} passed", data, c.cfg.id)


async def _contactors(ctx: CommandContext, c: Any, step: Callable[[str, bool, str], None]) -> None:
    timeout = ctx.app.config.charging.contactor_feedback_timeout_s
    c.close_contactors_for_test()  # modules off, no car: the connector's own guard for this test
    took = await _wait(c, c.io_contactors_closed, timeout)
    step("close", took is not None,
         f"closed feedback after {took * 1000:.0f} ms" if took is not None else f"no closed feedback in {timeout} s")
    c.open_contactors()
    took = await _wait(c, c.io_contactors_open, timeout)
    step("open", took is not None,
         f"open feedback after {took * 1000:.0f} ms" if took is not None else f"still closed after {timeout} s")


async def _wait(c: Any, condition: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until `condition` held, or None after `timeout`; stops at once if a car is plugged in."""
    start = time.monotonic()
    while True:
        if c.cp_state in CAR_CP_STATES:
            raise CarPlugged()
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(FEEDBACK_POLL_S)


def _modules(group: Any, step: Callable[[str, bool, str], None]) -> None:
    for m in group.module_states():
        ok = m["state"] == "ok"
        seen = "never heard" if m["last_seen_age_s"] is None else f"answered {m['last_seen_age_s']:.1f} s ago"
        flags = f", flags {','.join(m['flags'])}" if m["flags"] else ""
        step(f"module {m['address']:#04x}", ok, f"{m['state']}, {seen}{flags}")


async def _devices(app: Any, cid: int, step: Callable[[str, bool, str], None]) -> None:
    meter = device_reading(getattr(app, "meters", None) or {}, cid)
    if meter["configured"]:
        step("meter", meter["fresh"], "fresh reading" if meter["fresh"] else "no fresh reading")
    imd = (getattr(app, "imds", None) or {}).get(cid)
    if imd is None:
        return
    if hasattr(imd, "self_test"):
        passed = await imd.self_test(timeout_s=IMD_SELFTEST_TIMEOUT_S)
        step("imd", bool(passed), "self-test passed" if passed else "self-test failed")
    else:
        step("imd", bool(imd.fresh), "fresh reading" if imd.fresh else "no fresh reading")


def register(registry: CommandRegistry) -> None:
    registry.add(Command("selftest", selftest, "test I/O board, contactors, modules, meter, IMD (no car)",
                         "selftest [CONNECTOR]",
                         "Takes the connector out of service for about a second (booked as an outage) and"
                         " closes and opens the contactors with the modules off. Refused while a car is"
                         " connected.", role="technician"))
