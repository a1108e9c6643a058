"""Console commands: one small handler each, found by name, with its own help and the role it needs.

A handler takes the context and its arguments and returns a Reply: a text for people and plain data
for the JSON answer. It reports a refusal or bad input by raising CommandError with the reason.
Handlers may be plain functions or coroutines (selftest and cantrace wait on the hardware).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from controller.console.auth import ConsoleAuth, Role
from controller.console.cabinet_view import CabinetView


class CommandError(Exception):
    """The command was refused, failed or its arguments are wrong; the message says why.

    `data` goes into the JSON answer beside the error (e.g. the steps of a failed selftest).
    """

    def __init__(self, reason: str, data: Any = None):
        super().__init__(reason)
        self.data = data


@dataclass
class Reply:
    text: str
    data: Any = None
    connector: int | None = None  # the connector acted on, for the log


@dataclass
class CommandContext:
    cabinet: CabinetView  # all a command sees of the controller
    auth: ConsoleAuth
    registry: "CommandRegistry"
    json_mode: bool
    write_line: Callable[[str], None]  # streamed text output (cantrace); unused in JSON mode
    recent_events: Sequence[dict] = ()  # the console's own memory of events, when there is no store

    def record(self, message: str, data: dict | None = None, connector: int | None = None) -> None:
        self.cabinet.record_action(message, data, connector)


Handler = Callable[[CommandContext, list[str]], "Reply | Awaitable[Reply]"]


@dataclass(frozen=True)
class Command:
    name: str
    run: Handler
    summary: str  # one line for the command list
    usage: str  # e.g. "stop CONNECTOR"
    details: str = ""  # more help, shown by `help NAME`
    role: Role = "viewer"


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def add(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"console command {command.name!r} registered twice")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def commands(self) -> list[Command]:
        return list(self._commands.values())
