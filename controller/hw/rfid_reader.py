"""An RFID card reader on a serial port (pyserial), speaking our line protocol (controller/formats/rfid_line.py).

Each valid line is one card shown: `on_token(idToken dict, connector id or None)`. A line that is not valid
is rejected with its reason, logged and counted, never acted on. The same card read again within
repeat_ignore_s is the reader repeating itself while the card lies on it, not a new tap. A port that
fails or vanishes is reopened every REOPEN_S; the reader never stops the controller.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Callable

import serial

from controller.formats.cabinet.rfid_reader import RfidReaderConfig
from controller.formats.rfid_line import MAX_LINE, RfidLineRejected, parse

log = logging.getLogger(__name__)

REOPEN_S = 2.0
READ_CHUNK = 256

TokenSink = Callable[[dict, "int | None"], None]


class RfidReader:
    def __init__(self, cfg: RfidReaderConfig, connector_id: int | None, on_token: TokenSink,
                 clock: Callable[[], float] = time.monotonic):
        """`connector_id` None: a cabinet-wide reader (the token goes to the car that waits)."""
        self.cfg = cfg
        self.connector_id = connector_id
        self._on_token = on_token
        self._clock = clock
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line: drop bytes up to its LF
        self._last: tuple[str, float] | None = None
        self.tokens = 0
        self.rejected: list[str] = []  # the last reasons, for tests and technicians
        self._task: asyncio.Task | None = None
        self.is_open = False  # the port is open and read (opening flushes what waited in its input)

    @property
    def name(self) -> str:
        return f"RFID reader {self.cfg.port}" + (f" (connector {self.connector_id})" if self.connector_id else "")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"rfid-{self.connector_id or 'cabinet'}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                port = await asyncio.to_thread(serial.serial_for_url, self.cfg.port, baudrate=self.cfg.baudrate,
                                               timeout=0)
            except (serial.SerialException, OSError, ValueError) as exc:
                log.warning("%s: cannot open (%s); again in %.0f s", self.name, exc, REOPEN_S)
                await asyncio.sleep(REOPEN_S)
                continue
            try:
                await self._serve(loop, port)
            finally:
                port.close()
            await asyncio.sleep(REOPEN_S)

    async def _serve(self, loop: asyncio.AbstractEventLoop, port: Any) -> None:
        """Read from the port's file descriptor in the loop until the port fails."""
        lost: asyncio.Future = loop.create_future()
        fd = port.fileno()

        def readable() -> None:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            except OSError as exc:
                data, reason = b"", exc.strerror or str(exc)
            else:
                reason = "end of file"
            if not data:
                if not lost.done():
                    lost.set_result(reason)
                return
            self.feed(data)

        os.set_blocking(fd, False)
        loop.add_reader(fd, readable)
        self.is_open = True
        try:
            log.info("%s: open", self.name)
            log.warning("%s: lost (%s); reopening", self.name, await lost)
        finally:
            self.is_open = False
            loop.remove_reader(fd)

    def feed(self, data: bytes) -> None:
        """Bytes from the port: every complete line is judged."""
        for byte in data:
            if byte == 0x0A:
                line, self._buffer = bytes(self._buffer), bytearray()
                if self._discarding:
                    self._discarding = False
                    self._reject(f"line too long (over {MAX_LINE} bytes)")
                elif line.strip():
                    self._line(line)
            elif not self._discarding:
                self._buffer.append(byte)
                if len(self._buffer) > MAX_LINE + 1:
                    self._buffer.clear()
                    self._discarding = True

    def _line(self, line: bytes) -> None:
        try:
            value, token_type = parse(line)
        except RfidLineRejected as exc:
            self._reject(str(exc))
            return
        now = self._clock()
        if self._last is not None and self._last[0] == f"{token_type}:{value}" \
                and now - self._last[1] < self.cfg.repeat_ignore_s:
            self._last = (self._last[0], now)  # still lying on the reader
            return
        self._last = (f"{token_type}:{value}", now)
        self.tokens += 1
        log.info("%s: card %s (%s)", self.name, value, token_type)
        try:
            self._on_token({"idToken": value, "type": token_type}, self.connector_id)
        except Exception:  # the reader goes on reading whatever the token's consumer did
            log.exception("%s: the card's token was not taken", self.name)

    def _reject(self, reason: str) -> None:
        self.rejected = [*self.rejected[-19:], reason]
        log.warning("%s: line rejected: %s", self.name, reason)
