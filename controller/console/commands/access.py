"""help, login, logout, version, config: the console itself and what is running."""
from __future__ import annotations

import asyncio
import dataclasses
import platform
import time
from importlib import metadata
from typing import Any

from controller.formats.cabinet.config import CabinetConfig
from controller.formats.events import ConsoleLogin
from controller.console.formatting import cell_text, table
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply

MASK = "****"
SECRET_WORDS = ("pin", "password", "secret", "token")


def help_command(ctx: CommandContext, args: list[str]) -> Reply:
    if len(args) > 1:
        raise CommandError("usage: help [COMMAND]")
    if args:
        command = ctx.registry.get(args[0].lower())
        if command is None:
            raise CommandError(f"no command {args[0][:40]!r}; type help for the list")
        data = _describe(ctx, command)
        text = f"usage: {command.usage}\n{command.summary}"
        if command.details:
            text += "\n" + command.details
        return Reply(text + f"\nneeds: {command.role} role", data)
    commands = ctx.registry.commands()
    rows = [(c.usage, c.summary + ("" if ctx.auth.allows(c.role) else f" [{c.role}]")) for c in commands]
    text = table(rows, ("command", "what it does")) + \
        "\nAdd --json (or start with 'json') for a JSON answer; help COMMAND for more."
    return Reply(text, {"commands": [_describe(ctx, c) for c in commands]})


def _describe(ctx: CommandContext, command: Command) -> dict:
    return {"name": command.name, "usage": command.usage, "summary": command.summary,
            "details": command.details, "role": command.role, "allowed": ctx.auth.allows(command.role)}


def login(ctx: CommandContext, args: list[str]) -> Reply:
    if len(args) != 1:
        raise CommandError("usage: login PIN")
    result = ctx.auth.login(args[0])
    # a security event for the network (OCPP MaintenanceLogin*), through the app: the console knows no OCPP
    ctx.cabinet.report(ConsoleLogin(result.ok, result.role, result.failures, result.locked_for_s > 0, time.time()))
    data = {"ok": result.ok, "role": result.role, "failures": result.failures,
            "locked_for_s": round(result.locked_for_s, 1)}
    if result.ok:
        ctx.record(f"login: ok as {result.role}", data)
        return Reply(f"logged in as {result.role}", {"role": result.role})
    ctx.record(f"login: refused, {result.reason}", {**data, "reason": result.reason})
    reason = result.reason
    if result.locked_for_s:
        reason += f"; try again in {result.locked_for_s:.0f} s"
    raise CommandError(reason)


def logout(ctx: CommandContext, args: list[str]) -> Reply:
    was = ctx.auth.role
    ctx.auth.logout()
    if was != ctx.auth.role:
        ctx.record(f"logout: {was}")
    return Reply(f"logged out; role {ctx.auth.role}", {"role": ctx.auth.role})


def version(ctx: CommandContext, args: list[str]) -> Reply:
    try:
        ours = metadata.version("dc-charger-controller")
    except metadata.PackageNotFoundError:
        ours = "unknown (not installed)"
    cfg = ctx.cabinet.config
    data = {"controller": ours, "python": platform.python_version(), "cabinet": cfg.name,
            "power_vendor": cfg.power.vendor,
            "connectors": [{"id": c.id, "type": c.type} for c in cfg.connectors]}
    text = (f"dc-charger-controller {ours} (Python {data['python']})\n"
            f"cabinet {cfg.name}: {cfg.power.vendor} modules, connectors "
            + ", ".join(f"{c.id} {c.type}" for c in cfg.connectors))
    return Reply(text, data)


async def config(ctx: CommandContext, args: list[str]) -> Reply:
    if args:
        raise CommandError("usage: config")
    # the config is frozen: reading it from a worker thread is safe, and keeps milliseconds off the loop
    return await asyncio.to_thread(_config_reply, ctx.cabinet.config)


def _config_reply(cfg: CabinetConfig) -> Reply:
    data = masked(dataclasses.asdict(cfg))
    return Reply("\n".join(f"{key} = {cell_text(value)}" for key, value in _flat(data)), data)


def masked(value: Any, key: str = "") -> Any:
    """The config with secrets replaced: set ones by ****, empty ones stay empty (so 'not set' shows)."""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if any(word in key.lower() for word in SECRET_WORDS) and value not in ("", None):
        return MASK
    return value


def _flat(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flat(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return [item for i, v in enumerate(value) for item in _flat(v, f"{prefix}[{i}]")]
    return [(prefix, value)]


def register(registry: CommandRegistry) -> None:
    registry.add(Command("help", help_command, "list the commands, or explain one", "help [COMMAND]",
                         role="none"))
    registry.add(Command("login", login, "log in with a viewer or technician PIN", "login PIN",
                         "After too many wrong PINs in a row, login is locked for a while.", role="none"))
    registry.add(Command("logout", logout, "drop back to the default role", "logout", role="none"))
    registry.add(Command("version", version, "software version and cabinet", "version", role="none"))
    registry.add(Command("config", config, "the running configuration (PINs masked)", "config"))
