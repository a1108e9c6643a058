"""How the runner holds the controller under test: in this process, or as a separate process.

Either way the runner learns what the controller did only from its events (the JSON lines that
`charger-controller --events-json` prints) and from the wires. A controller that asks to be restarted (an OCPP
Reset: the process exits with its restart status, the app in this process sets `restart_requested`) is started
again, as systemd does on a cabinet.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from controller.formats.events import EventSink, MalformedEvent, parse_event_line
from controller.formats.exit_status import RESTART_REQUESTED

log = logging.getLogger(__name__)
EVENT_LINE_LIMIT = 4 * 1024 * 1024  # a v2g_closed event carries up to 1,000 answer times per request type


class InProcessController:
    """The controller app in the runner's event loop (python-can `virtual` works only like this)."""

    reports_events = True

    def __init__(self, cabinet_config, can_override: tuple[str, str] | None, on_event: EventSink):
        from controller.app import ControllerApp  # the firmware under test, not rig logic

        self.app = ControllerApp(cabinet_config, on_event=on_event, can_override=can_override)
        self.alive = False
        self.restarts = 0
        self._made = (cabinet_config, can_override, on_event)
        self._restarter: asyncio.Task | None = None

    async def start(self) -> None:
        await self.app.start()
        self.alive = True
        self._restarter = asyncio.create_task(self._restart_when_asked(), name="controller-restart")

    async def _restart_when_asked(self) -> None:
        """As the process would exit and be started again: stopped (every connector powered off), a new app from
        the same config. Its SECCs are not attached again: V2G after a restart needs --separate-process."""
        from controller.app import ControllerApp

        while True:
            await self.app.restart_requested.wait()
            await self.app.stop()
            config, can_override, on_event = self._made
            self.app = ControllerApp(config, on_event=on_event, can_override=can_override)
            self.app.build()
            await self.app.start()
            self.restarts += 1

    async def _end_restarter(self) -> None:
        if self._restarter is not None:
            self._restarter.cancel()
            await asyncio.gather(self._restarter, return_exceptions=True)
            self._restarter = None

    async def crash(self) -> None:
        self.alive = False
        await self._end_restarter()
        await self.app.crash()

    async def stop(self) -> None:
        await self._end_restarter()
        if self.alive:
            self.alive = False
            await self.app.stop()

    def request_stop(self, connector_id: int) -> bool:
        connector = next(c for c in self.app.connectors if c.cfg.id == connector_id)
        return connector.request_stop("user_stop")


class SubprocessController:
    """`charger-controller` as a child process; events arrive on its stdout."""

    reports_events = True

    def __init__(self, cabinet_path: Path, can_override: tuple[str, str] | None, on_event: EventSink,
                 overrides: list[str] = ()):
        self.cabinet_path = cabinet_path
        self.overrides = list(overrides)
        self.can_override = can_override
        self.on_event = on_event
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self.alive = False
        self.restarts = 0

    async def start(self) -> None:
        await self._spawn()
        self._reader = asyncio.create_task(self._read_events())
        self.alive = True

    async def _spawn(self) -> None:
        argv = [sys.executable, "-m", "controller", "--config", str(self.cabinet_path), "--events-json"]
        if self.can_override:
            argv += ["--can", ":".join(self.can_override)]
        for assignment in self.overrides:
            argv += ["--set", assignment]
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}, limit=EVENT_LINE_LIMIT)

    async def _read_events(self) -> None:
        while True:
            await self._read_process_events()
            status = await self.proc.wait()
            if status != RESTART_REQUESTED or not self.alive:
                return
            self.restarts += 1  # as systemd's unit does (RestartForceExitStatus)
            await self._spawn()
            if not self.alive:  # stopped while it was being started: it goes at once
                self.proc.kill()

    async def _read_process_events(self) -> None:
        assert self.proc and self.proc.stdout
        while True:
            try:
                line = await self.proc.stdout.readline()
            except ValueError:  # a line over the limit: skipped, the stream goes on (the pipe must never fill)
                continue
            if not line:
                break
            try:
                event = parse_event_line(line)
            except MalformedEvent as exc:  # said once a line, and skipped: the stream goes on
                log.warning("controller printed a line that is not an event: %s", exc)
                continue
            self.on_event(event)

    async def crash(self) -> None:
        self.alive = False
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        self.alive = False  # no restart from here on
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5.0)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.alive = False
        if self._reader:
            await asyncio.gather(self._reader, return_exceptions=True)

    def request_stop(self, connector_id: int) -> bool:
        raise RuntimeError("user-stop needs the service console of a separate controller (not available yet)")


class ExternalController:
    """A controller the rig does not start (another process, another machine, a real board).

    The rig knows only where its first connector's SECC answers SDP (its `[v2g]` test door on loopback); it
    sees no events, so phases come from the car and faults from what the rig observes on the wires.
    """

    reports_events = False

    def __init__(self):
        self.alive = True

    async def start(self) -> None:
        pass

    async def crash(self) -> None:
        raise RuntimeError("the rig cannot stop a controller it did not start")

    async def stop(self) -> None:
        pass

    def request_stop(self, connector_id: int) -> bool:
        raise RuntimeError("user-stop needs the controller's service console (not available yet)")


def open_secc_sockets(interface: str | None, frames=None, sdp_port: int | None = None):
    """One connector's SECC sockets for `ControllerApp.attach_secc`, opened where the call runs (the link's
    SECC namespace). `frames`: the SECC's end of the rig's in-memory cable (loopback mode), handed over so that
    the controller sees its own LinkClosed when the rig closes the cable."""
    from controller.v2g.secc_link import open_secc_sockets as open_sockets

    options = {} if sdp_port is None else {"sdp_port": sdp_port}
    # a TLS listener too: the controller closes it unless its config has [v2g.tls]
    return open_sockets(interface, frames=None if frames is None else secc_frame_end(frames), tls=True, **options)


def secc_frame_end(end):
    """The rig's Ethernet end as the controller's FrameLink: the rig's WireClosed becomes its LinkClosed."""
    from controller.v2g.ethernet import LinkClosed
    from hil.wires.ethernet import WireClosed

    class SeccFrameEnd:
        @property
        def mac(self) -> bytes:
            return end.mac

        def send(self, frame: bytes) -> None:
            try:
                end.send(frame)
            except WireClosed as exc:
                raise LinkClosed(str(exc)) from exc

        async def receive(self) -> bytes:
            try:
                return await end.receive()
            except WireClosed as exc:
                raise LinkClosed(str(exc)) from exc

        def close(self) -> None:
            end.close()

    return SeccFrameEnd()
