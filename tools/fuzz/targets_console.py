"""Target for console input: bytes through the line editor (control characters, escape sequences, huge
lines, binary), each finished line run by the command session against the desk cabinet's controller (built
on a private virtual CAN channel, so connector 1 exists, but never started: no hardware), logged in as
technician so every command's argument parsing is reached. The controller's state (a connector disabled by
one input) carries over to the next input.

The session catches any exception of a command and answers "internal error in ...": for the fuzzer that
answer is the finding (a command must refuse bad arguments with CommandError). Commands that run for
seconds by design (cantrace, selftest) are cut after a short bound; any other command that does not answer
within LINE_BOUND_S is a hang.
"""
from __future__ import annotations

from tools.fuzz.target import OneInput, PropertyBroken, Target

TECH_PIN = "2468"
LINE_BOUND_S = 2.0
LONG_RUNNING = {"cantrace": 0.05, "selftest": 0.05}
MAX_LINE = 256


def _build() -> OneInput:
    import asyncio
    import uuid
    from dataclasses import replace

    from controller.app import ControllerApp
    from controller.app_cabinet_view import AppCabinetView
    from controller.formats.cabinet.config import ConsoleConfig, StoreConfig, load_config
    from controller.console.auth import ConsoleAuth
    from controller.console.commands import build_registry
    from controller.console.line_editor import LineEditor
    from controller.console.session import ConsoleSession
    from hil.setup import cabinet_path

    config = load_config(cabinet_path("desk"))
    console = ConsoleConfig(port="fuzz", technician_pin=TECH_PIN)
    # built (drivers on a private virtual CAN channel, no store) but never run: connector 1 exists, unavailable
    app = ControllerApp(replace(config, console=console, store=StoreConfig()),
                        can_override=("virtual", f"fuzz-console-{uuid.uuid4().hex[:10]}"))
    app.build()
    loop = asyncio.new_event_loop()
    registry = build_registry()

    def one(data: bytes) -> None:
        written: list[str] = []
        auth = ConsoleAuth(console)
        auth.login(TECH_PIN)
        session = ConsoleSession(AppCabinetView(app), auth, registry, written.append)
        editor = LineEditor(MAX_LINE)
        for byte in data:
            result = editor.key(byte)
            if any(b > 0x7E and b != 0x7F for b in editor.echo):
                raise PropertyBroken(f"the editor echoes a non-ASCII byte: {bytes(editor.echo)!r}")
            editor.echo.clear()
            if len(editor.line) > MAX_LINE:
                raise PropertyBroken(f"the line grew to {len(editor.line)} characters, limit {MAX_LINE}")
            if result is None or result.kind != "line" or not result.text.strip():
                continue
            words = result.text.split()
            name = next((w.lower() for w in words if w not in ("json", "--json")), "")
            bound = LONG_RUNNING.get(name, LINE_BOUND_S)
            try:
                loop.run_until_complete(asyncio.wait_for(session.run_line(result.text), bound))
            except TimeoutError:
                if name not in LONG_RUNNING:
                    raise PropertyBroken(f"{result.text!r} did not answer within {bound} s") from None
            for text in written:
                if "internal error in" in text:
                    raise PropertyBroken(f"{result.text!r} answered {text!r}")
            written.clear()
    return one


def _seeds() -> list[bytes]:
    lines = ["help", "help stop", "version", "config", "status", "modules", "meter", "imd", "faults 5", "log 3",
             "sessions 2", "uptime", "json status", "status --json", "stop 1", "start 1", "authorize 1",
             "enable 1", "disable 1 maintenance", "clear 1", "selftest 1", "meter 1", "imd 1", "login 1234", "logout", "cantrace 1 Io"]
    out = [(line + "\r").encode() for line in lines]
    out.append(b"sta\x1b[Dtus\x1b[A\x1b[B\x7f\x08s\r\n")
    out.append(b"log 99999999999999999999\r" + b"x" * 300 + b"\r\x03\x15help\n")
    out.append(b"\x80\xff\x00status\r")
    return out


def targets() -> list[Target]:
    return [Target("console", "console LineEditor + ConsoleSession.run_line (every command)", (), _build,
                   _seeds, 2048)]
