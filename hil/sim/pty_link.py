"""A serial null-modem cable in software: two pseudo-terminals whose bytes are copied across.

os.openpty gives one path (the slave) and one file descriptor (the master); a Modbus RTU server and client
each need a path, so two pairs are joined by copying master to master in the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import os
import tty

log = logging.getLogger(__name__)


class PtyLink:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fds: list[int] = []
        self._masters: tuple[int, int] = (-1, -1)
        self.device_path = ""  # the simulator's end
        self.controller_path = ""  # the driver's end

    def open(self) -> PtyLink:
        """Create both pseudo-terminals and start copying; needs a running event loop."""
        self._loop = asyncio.get_running_loop()
        ends = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing: bytes pass unchanged
            os.set_blocking(master, False)
            self._fds += [master, slave]  # the slave stays open here so the master never reads EOF
            ends.append((master, os.ttyname(slave)))
        (m1, self.device_path), (m2, self.controller_path) = ends
        self._masters = (m1, m2)
        self._loop.add_reader(m1, self._copy, m1, m2)
        self._loop.add_reader(m2, self._copy, m2, m1)
        return self

    def close(self) -> None:
        if self._loop is not None:
            for master in self._masters:
                self._loop.remove_reader(master)
            self._loop = None
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def _copy(self, src: int, dst: int) -> None:
        try:
            data = os.read(src, 4096)
        except OSError:  # the far end has closed its side for the moment
            return
        try:
            os.write(dst, data)
        except BlockingIOError:
            log.warning("pty link: %d bytes dropped, the other end is not reading", len(data))

    async def __aenter__(self) -> PtyLink:
        return self.open()

    async def __aexit__(self, *exc) -> None:
        self.close()
