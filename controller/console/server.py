"""ConsoleServer: the technicians' serial console, inside the controller's event loop.

It keeps the configured port open (retrying every `retry_s` while it cannot, and after it vanishes),
feeds the bytes through the input budget and the line editor, and runs one command line at a time
as a task, so nothing a terminal sends can hold up the control loop. Bytes typed while a command runs
wait (up to MAX_PENDING); Ctrl-C interrupts the command. A new connection starts logged out.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Callable

import serial

from controller.formats.cabinet.config import ConsoleConfig
from controller.console.auth import ConsoleAuth
from controller.console.cabinet_view import CabinetView
from controller.console.commands import build_registry
from controller.console.flow_limits import InputBudget
from controller.console.line_editor import CTRL_C, LineEditor
from controller.console.serial_link import SerialLink, open_link
from controller.console.session import ConsoleSession
from controller.formats.events import Event

log = logging.getLogger("controller.console")

MAX_LINE = 256
MAX_PENDING = 1024
INPUT_BYTES_PER_S = 2048.0
INPUT_BURST = 4096
RECENT_EVENTS = 200
WARN_EVERY_S = 30.0  # repeated warnings of one kind are logged at most this often
# after input was dropped, the rest of that paste is dropped too, until the terminal has been quiet this long:
# the next command typed starts on a clean line instead of being glued to the pasted remainder
PASTE_QUIET_S = 0.2


class ConsoleServer:
    def __init__(self, cabinet: CabinetView, cfg: ConsoleConfig, *, retry_s: float = 3.0,
                 input_bytes_per_s: float = INPUT_BYTES_PER_S, input_burst: int = INPUT_BURST,
                 clock: Callable[[], float] = time.monotonic):
        if not cfg.port:
            raise ValueError("console.port is empty: no console to serve")
        self.cabinet = cabinet
        self.cfg = cfg
        self.retry_s = retry_s
        self.clock = clock
        self.auth = ConsoleAuth(cfg, clock)
        self.recent_events: deque[dict] = deque(maxlen=RECENT_EVENTS)
        self.session = ConsoleSession(cabinet, self.auth, build_registry(), self._write_text,
                                      recent_events=self.recent_events)
        self.editor = LineEditor(MAX_LINE)
        self.budget = InputBudget(input_bytes_per_s, input_burst, clock)
        self.link: SerialLink | None = None
        self.counters = {"opens": 0, "losses": 0, "bytes_in": 0, "input_dropped": 0, "lines": 0,
                         "rejected_lines": 0, "output_dropped": 0, "noise_bytes": 0}
        self._pending = bytearray()
        self._discarding = False  # dropping the rest of an over-budget paste
        self._last_input_t = 0.0
        self._command: asyncio.Task | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._warned: dict[str, float] = {}
        self._subscribed = False

    # ---- life cycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin serving; returns at once. A port that cannot be opened is retried, never raised."""
        if self._task is not None:
            return
        self._stopping = False
        if not self._subscribed:
            self.cabinet.subscribe(self._on_app_event)
            self._subscribed = True
        self._task = asyncio.create_task(self._keep_open(), name="console")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def connected(self) -> bool:
        return self.link is not None

    def stats(self) -> dict:
        link_dropped = self.link.output.dropped if self.link is not None else 0
        return {**self.counters, "output_dropped": self.counters["output_dropped"] + link_dropped,
                "noise_bytes": self.counters["noise_bytes"] + self.editor.noise_bytes, "connected": self.connected}

    async def _keep_open(self) -> None:
        failures = 0
        while True:
            try:
                link = await _open_in_thread(self.cfg.port, self.cfg.baudrate)
            except (OSError, ValueError, serial.SerialException) as exc:
                if failures == 0:
                    log.warning("console: cannot open %s: %s; retrying every %g s", self.cfg.port, exc, self.retry_s)
                failures += 1
                await asyncio.sleep(self.retry_s)
                continue
            if failures:
                log.info("console: %s opened after %d failed attempts", self.cfg.port, failures)
            failures = 0
            reason = await self._serve(link)
            self.counters["losses"] += 1
            log.warning("console: lost %s (%s); reopening in %g s", self.cfg.port, reason, self.retry_s)
            await asyncio.sleep(self.retry_s)

    async def _serve(self, link: SerialLink) -> str:
        """Run the console on one open link until the port is lost; returns why."""
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[str] = loop.create_future()
        link.start(loop, self._on_bytes, lambda why: lost.done() or lost.set_result(why))
        self.link = link
        self.counters["opens"] += 1
        self._pending.clear()
        self.auth.logout()
        log.info("console: serving on %s", link.name)
        self._write_text(f"\n{self.session.name} service console; type help")
        self._prompt()
        try:
            return await lost
        finally:
            self.link = None
            if self._command is not None:
                self._command.cancel()
            self.counters["output_dropped"] += link.output.dropped
            self.counters["noise_bytes"] += self.editor.noise_bytes
            self.editor = LineEditor(MAX_LINE)
            await link.close()

    # ---- input ---------------------------------------------------------------------------------------
    def _on_bytes(self, data: bytes) -> None:
        self.counters["bytes_in"] += len(data)
        now = self.clock()
        quiet_for, self._last_input_t = now - self._last_input_t, now
        if self._discarding:
            if quiet_for < PASTE_QUIET_S:
                self.counters["input_dropped"] += len(data)
                return
            self._discarding = False
        allowed = self.budget.take(len(data))
        if allowed < len(data):
            self.counters["input_dropped"] += len(data) - allowed
            self._warn("rate", "console: input above %d bytes/s dropped (%d bytes so far)",
                       int(self.budget.rate), self.counters["input_dropped"])
            self._accept(data[:allowed])
            self._drop_paste(len(data) - allowed)
            return
        self._accept(data)

    def _drop_paste(self, dropped: int) -> None:
        """Input came faster than the budget: the line it was part of is discarded, with a reason, and the
        rest of the paste is dropped; the next command typed after a pause starts on a clean line."""
        self._discarding = True
        self._pending.clear()
        self.editor.discard_line()
        self.counters["rejected_lines"] += 1
        self._write_text(f"\nerror: input faster than {int(self.budget.rate)} bytes/s ({dropped} bytes dropped; "
                         f"a line holds at most {MAX_LINE} characters): the line is discarded, type it again")
        if self._command is None:
            self._prompt()

    def _accept(self, data: bytes) -> None:
        if self._command is not None and CTRL_C in data:
            self._pending.clear()
            self._command.cancel()
            return
        self._pending += data
        self._process()
        excess = len(self._pending) - MAX_PENDING  # typed ahead while a command runs
        if excess > 0:
            self.counters["input_dropped"] += excess
            del self._pending[MAX_PENDING:]

    def _process(self) -> None:
        """Feed waiting bytes to the editor until a command starts (it continues when that one ends)."""
        used = 0
        while used < len(self._pending) and self._command is None and self.link is not None:
            result = self.editor.key(self._pending[used])
            used += 1
            if self.editor.echo:
                self._send(bytes(self.editor.echo))
                self.editor.echo.clear()
            if result is None:
                continue
            if result.kind == "interrupt":
                self._prompt()
            elif result.kind == "rejected":
                self.counters["rejected_lines"] += 1
                self._warn("rejected", "console: line rejected: %s", result.text)
                self._write_text(f"error: {result.text}")
                self._prompt()
            elif result.text.strip():
                self.counters["lines"] += 1
                self._command = asyncio.create_task(self.session.run_line(result.text), name="console-command")
                self._command.add_done_callback(self._command_done)
            else:
                self._prompt()
        del self._pending[:used]

    def _command_done(self, task: asyncio.Task) -> None:
        self._command = None
        if self._stopping or self.link is None:
            return
        if task.cancelled():
            self._write_text("^C interrupted")
        elif task.exception() is not None:  # the session catches command errors; this is its own bug
            log.error("console: command failed", exc_info=task.exception())
            self._write_text("error: internal console error")
        self._prompt()
        self._process()

    # ---- output --------------------------------------------------------------------------------------
    def _write_text(self, text: str) -> None:
        lines = text.replace("\r\n", "\n").split("\n")
        self._send(("\r\n".join(lines) + "\r\n").encode("ascii", "replace"))

    def _prompt(self) -> None:
        self._send(self.session.prompt().encode("ascii", "replace"))

    def _send(self, data: bytes) -> None:
        if self.link is not None:
            self.link.send(data)

    # ---- events and logging ---------------------------------------------------------------------------
    def _on_app_event(self, event: Event) -> None:
        """Keep recent controller events for `log` when there is no store; cheap, never raises."""
        if self._stopping:
            return
        data = event.json_fields()
        connector = data.get("connector")
        message = " ".join(f"{k}={v}" for k, v in data.items() if k not in ("connector", "t"))
        self.recent_events.append({"t": time.time(), "connector": connector if isinstance(connector, int) else None,
                                   "kind": event.KIND, "message": message[:120], "data": data})

    def _warn(self, key: str, message: str, *args: Any) -> None:
        now = self.clock()
        if now - self._warned.get(key, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._warned[key] = now
            log.warning(message, *args)


async def _open_in_thread(port: str, baudrate: int) -> SerialLink:
    """open_link in a worker thread; a link opened after the caller was cancelled is closed, not leaked."""
    loop = asyncio.get_running_loop()
    opening = loop.run_in_executor(None, open_link, port, baudrate)
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        def close_late(done: asyncio.Future) -> None:
            if not done.cancelled() and done.exception() is None:
                done.result().release()
        opening.add_done_callback(close_late)
        raise
