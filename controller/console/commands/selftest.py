"""selftest: check a connector's hardware with no car connected.

The console only asks for the test and shows its steps as they end; the hardware steps (out of service,
contactors closed and opened with the modules off, modules, meter, IMD) belong to
controller/connector_selftest.py, reached through the cabinet view.
"""
from __future__ import annotations

from controller.console.cabinet_view import SelfTestRefused
from controller.console.commands.arguments import one_connector
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply


async def selftest(ctx: CommandContext, args: list[str]) -> Reply:
    c = one_connector(ctx.cabinet, args)

    def show(name: str, ok: bool, detail: str) -> None:
        if not ctx.json_mode:
            ctx.write_line(f"  {name:<12} {'ok  ' if ok else 'FAIL'}  {detail}")

    try:
        steps = await ctx.cabinet.self_test(c.id, show)
    except SelfTestRefused as exc:
        raise CommandError(str(exc)) from None
    data = {"connector": c.id, "passed": all(s["ok"] for s in steps), "steps": steps, "state": c.state}
    failed = [f"{s['step']}: {s['detail']}" for s in steps if not s["ok"]]
    if failed:
        raise CommandError(f"selftest of connector {c.id} failed: " + "; ".join(failed), data)
    return Reply(f"selftest of connector {c.id} passed", data, c.id)


def register(registry: CommandRegistry) -> None:
    registry.add(Command("selftest", selftest, "test I/O board, contactors, modules, meter, IMD (no car)",
                         "selftest [CONNECTOR]",
                         "Takes the connector out of service for about a second (booked as an outage) and"
                         " closes and opens the contactors with the modules off. Refused while a car is"
                         " connected.", role="technician"))
