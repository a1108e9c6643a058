"""What the console tests share: a console served on a pty in front of a real controller and the rig,
or in front of a controller that was never started (for the transport tests), and pyserial clients.

Each test runs its own event loop with asyncio.run; pyserial calls (blocking) run in threads so the
console keeps being served meanwhile.
"""
from __future__ import annotations

import asyncio
import json
import os
import select
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import AsyncIterator, Callable

from controller.app import ControllerApp
from controller.formats.cabinet.config import ConsoleConfig, OcppConfig, StoreConfig, load_config
from controller.app_cabinet_view import AppCabinetView
from controller.console import ConsoleServer
from controller.formats.events import Event
from hil.ev.evcc.rig_link import RigV2gLink
from hil.rig import Rig
from hil.setup import cabinet_path, load_setup
from tests import polling
from tools.charger_console import ConsoleClient

VIEWER_PIN = "4711"
TECH_PIN = "2468"
WAIT_S = 10.0


async def until(predicate: Callable[[], bool], what: str) -> None:
    """The shared poll with the console's longer bound (a pty round trip under load)."""
    await polling.until(predicate, what, timeout_s=WAIT_S, period_s=0.01)


def console_config(port: str, **overrides) -> ConsoleConfig:
    return replace(ConsoleConfig(port=port, technician_pin=TECH_PIN), **overrides)


@asynccontextmanager
async def bare_console(port: str, wait: bool = True, **options) -> AsyncIterator[ConsoleServer]:
    """A console in front of a controller that was never started (no connectors): for the transport.
    Returns once the port is open, unless `wait` is False."""
    server_options = {k: options.pop(k) for k in ("retry_s", "input_bytes_per_s", "input_burst") if k in options}
    config = replace(load_config(cabinet_path("desk")), console=console_config(port, **options))
    server = ConsoleServer(AppCabinetView(ControllerApp(config)), config.console, **{"retry_s": 0.05, **server_options})
    await server.start()
    try:
        if wait:
            await until(lambda: server.connected, "the console's port open")
        yield server
    finally:
        await server.stop()


@dataclass
class Cabinet:
    app: ControllerApp
    rig: Rig
    server: ConsoleServer
    path: str
    events: list[Event] = field(default_factory=list)
    v2g: RigV2gLink | None = None  # the cars' V2G link (loopback: in-process SLAC, SDP and TCP on ::1)

    @property
    def connector(self):
        return self.app.connectors[0]


@asynccontextmanager
async def cabinet(tmp_path: Path, *, store: bool = False, charging: dict | None = None, modbus: bool = True,
                  ocpp: OcppConfig | None = None, rfid=None, **console_options) -> AsyncIterator[Cabinet]:
    """The desk cabinet in this process, the rig's simulators on a private virtual CAN channel, a V2G
    loopback link for its cars, and its console on a new pty linked at tmp_path/console; returns once the
    connector is available.
    `modbus=False` leaves the meter and IMD out of the controller's config."""
    setup = load_setup("desk")
    can = ("virtual", f"console-{uuid.uuid4().hex[:10]}")
    rig = Rig(setup, can)
    await rig.start()
    path = str(tmp_path / "console")
    config = load_config(cabinet_path("desk"), tuple(rig.config_overrides()))
    config = replace(config, console=console_config(f"pty:{path}", **console_options))
    if store:
        config = replace(config, store=StoreConfig(path=str(tmp_path / "store.db")))
    if charging:
        config = replace(config, charging=replace(config.charging, **charging))
    if ocpp is not None:
        config = replace(config, ocpp=ocpp)
    if rfid is not None:  # a cabinet-wide card reader (RfidReaderConfig)
        config = replace(config, rfid=rfid)
    if not modbus:
        config = replace(config, connectors=tuple(replace(c, meter=None, imd=None) for c in config.connectors))
    events: list[Event] = []
    app = ControllerApp(config, on_event=events.append, can_override=can)
    # the app starts and stops its own console; here with a quick retry so tests need not wait
    server = app.console = ConsoleServer(AppCabinetView(app), config.console, retry_s=0.05)
    v2g = RigV2gLink("din", [c.id for c in config.connectors])
    try:
        await v2g.open()
        app.build()
        await v2g.attach(app)
        await app.start()
        await until(lambda: server.connected and app.connectors[0].state == "available", "connector available")
        yield Cabinet(app, rig, server, path, events, v2g)
    finally:
        await app.stop()
        await v2g.close()
        await rig.stop()


async def connect(path: str, timeout: float = 5.0) -> ConsoleClient:
    client = await asyncio.to_thread(ConsoleClient.open, path, 115200, timeout)
    await asyncio.to_thread(client.sync)
    return client


async def ask(client: ConsoleClient, line: str) -> str:
    return await asyncio.to_thread(client.command, line)


async def ask_json(client: ConsoleClient, line: str) -> dict:
    answer = await ask(client, line)
    lines = answer.splitlines()
    assert len(lines) == 1, f"a JSON answer is one line, got {answer!r}"
    return json.loads(lines[0])


class RawPty:
    """A pty whose slave the console opens as its serial device; the test speaks through the master."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, marker: bytes, timeout: float = WAIT_S) -> bytes:
        """Bytes up to and including `marker` (blocking: call in a thread)."""
        buffer = b""
        deadline = time.monotonic() + timeout
        while marker not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} within {timeout} s; got {buffer[-200:]!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.1))
            if ready:
                buffer += os.read(self.master, 4096)
        return buffer

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
