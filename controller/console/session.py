"""One person at the console: a line becomes a command run with its role checked and its answer written.

`json status` or `status --json` answers with one JSON line: {"ok": true, "command": ..., "data": ...}
or {"ok": false, "command": ..., "error": ...}. Text answers that are refusals start with "error: ".
Technician commands are recorded (log and store) with their outcome, refused attempts included.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import re
from typing import Callable, Sequence

from controller.console.auth import ConsoleAuth, IDLE_LOGOUT_S
from controller.console.cabinet_view import CabinetView
from controller.console.formatting import json_line
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply

log = logging.getLogger("controller.console")

Writer = Callable[[str], None]


class ConsoleSession:
    def __init__(self, cabinet: CabinetView, auth: ConsoleAuth, registry: CommandRegistry, write: Writer, *,
                 recent_events: Sequence[dict] = ()):
        self.cabinet = cabinet
        self.auth = auth
        self.registry = registry
        self.write = write
        self.recent_events = recent_events
        name = re.sub(r"[^A-Za-z0-9_.-]", "", cabinet.config.name)[:24]
        self.name = name or "charger"

    def prompt(self) -> str:
        role = self.auth.role
        return f"{self.name}> " if role == "none" else f"{self.name}:{role}> "

    async def run_line(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        json_mode = words[0] == "json" or "--json" in words
        words = [w for i, w in enumerate(words) if not (w == "--json" or (i == 0 and w == "json"))]
        if not words:
            self._answer("json", json_mode, error="json needs a command, e.g. json status")
            return
        name, args = words[0].lower(), words[1:]
        if self.auth.touch() and not json_mode:
            self.write(f"(logged out after {IDLE_LOGOUT_S / 60:.0f} min without a command)")
        command = self.registry.get(name)
        if command is None:
            self._answer(name[:40], json_mode, error=f"unknown command {name[:40]!r}; type help")
            return
        if not self.auth.allows(command.role):
            reason = (f"{name} needs the {command.role} role; log in with: login PIN"
                      if self.auth.role != "none" else "log in first: login PIN")
            self._record(command, args, None, reason, refused=True)
            self._answer(name, json_mode, error=reason)
            return
        reply, error = await self._run(command, args, json_mode)
        self._record(command, args, reply, error)
        if json_mode and reply is not None:
            # a large answer (log 100) takes a millisecond or more to encode: off the event loop
            self.write(await asyncio.to_thread(self._json_answer, name, reply, error))
        else:
            self._answer(name, json_mode, reply=reply, error=error)

    async def _run(self, command: Command, args: list[str], json_mode: bool) -> tuple[Reply | None, str | None]:
        """(reply, None) when the command worked; (None, reason) when it failed, or (Reply holding the
        failure's data, reason) when the failure carries data (a failed selftest's steps)."""
        ctx = CommandContext(self.cabinet, self.auth, self.registry, json_mode, self.write, self.recent_events)
        try:
            result = command.run(ctx, args)
            if inspect.isawaitable(result):
                result = await result
            return result, None
        except CommandError as exc:
            return (None if exc.data is None else Reply("", exc.data)), str(exc)
        except asyncio.CancelledError:
            self._record(command, args, None, "interrupted (Ctrl-C)")
            raise
        except Exception as exc:  # a bug in one command must not take the console down
            log.exception("console command %s failed", command.name)
            return None, f"internal error in {command.name}: {exc.__class__.__name__}: {exc}"

    def _answer(self, name: str, json_mode: bool, *, reply: Reply | None = None, error: str | None = None) -> None:
        if json_mode:
            self.write(self._json_answer(name, reply, error))
        elif error is not None:
            self.write(f"error: {error}")
        elif reply is not None and reply.text:
            self.write(reply.text)

    @staticmethod
    def _json_answer(name: str, reply: Reply | None, error: str | None) -> str:
        body: dict = {"ok": error is None, "command": name}
        if error is not None:
            body["error"] = error
        if reply is not None and (error is None or reply.data is not None):
            body["data"] = reply.data
        return json_line(body)

    def _record(self, command: Command, args: list[str], reply: Reply | None, error: str | None,
                refused: bool = False) -> None:
        if command.role != "technician":
            return
        outcome = "refused: " + (error or "") if refused else ("ok" if error is None else f"error: {error}")
        connector = reply.connector if reply is not None else None
        data = {"command": command.name, "args": args, "role": self.auth.role, "ok": error is None}
        if error is not None:
            data["error"] = error
        self.cabinet.record_action(f"{' '.join([command.name, *args])}: {outcome}", data, connector)
