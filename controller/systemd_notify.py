"""sd_notify for a controller run by systemd (Type=notify, WatchdogSec=): READY, STATUS, WATCHDOG, STOPPING.

The protocol is small enough to speak directly (no dependency): one datagram of `KEY=VALUE` lines to the
unix socket named in $NOTIFY_SOCKET (a leading `@` names an abstract socket). Outside systemd the variable is
unset and every call does nothing. A send that fails is logged once and never stops the controller.

Watchdog: systemd sets $WATCHDOG_USEC (and $WATCHDOG_PID, the process it watches). `WatchdogPinger` pings
at half that interval from the event loop, and only while `alive()` says the controller's loop and tasks are
healthy: a hung loop, a dead task or one the task supervisor holds the I/O board heartbeat for stops the pings,
and systemd restarts the service once that lasts WatchdogSec.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval_s = _watchdog_interval(env)
        self._socket: socket.socket | None = None
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """Send one notification (e.g. READY=1, STATUS=...); False when not under systemd or it failed."""
        if self.address is None:
            return False
        text = "\n".join(f"{key}={_one_line(value)}" for key, value in fields.items())
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)
            self._socket.sendto(text.encode(), self.address)
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("sd_notify to %s failed: %s (further failures not logged)", self.address, exc)
                self._warned = True
            return False

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status, MAINPID=os.getpid())

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self, status: str = "stopping: powering down") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class WatchdogPinger:
    """Pings WATCHDOG=1 every half interval while `alive()` holds; while it does not, no pings (STATUS says why),
    so systemd restarts a controller that stays unhealthy for WatchdogSec."""

    def __init__(self, notifier: SystemdNotifier, alive: Callable[[], str | None]):
        self.notifier = notifier
        self.alive = alive  # None: healthy; else the reason, sent as STATUS
        self.pings = 0
        self.problem: str | None = None

    async def run(self) -> None:
        interval = self.notifier.watchdog_interval_s
        if interval is None:
            return
        while True:
            self.turn()
            await asyncio.sleep(interval / 2)

    def turn(self) -> None:
        problem = self.alive()
        if problem != self.problem:
            if problem is not None:
                log.error("controller unhealthy (%s): no watchdog pings until it recovers", problem)
                self.notifier.status(f"unhealthy: {problem}")
            else:
                log.warning("controller healthy again: watchdog pings resume")
                self.notifier.status("running: healthy again")
            self.problem = problem
        if problem is None:
            self.notifier.watchdog()
            self.pings += 1


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # vsock and other forms are not used on a cabinet


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None  # not for this process (e.g. inherited by a child)
    return usec / 1e6


def _one_line(value: str | int) -> str:
    return " ".join(str(value).split())
