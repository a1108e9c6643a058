"""The rig's RFID card reader: our line protocol (controller/formats/rfid_line.py) on a pseudo-terminal.

The controller opens `port` (the pty's slave) as its reader's serial device; the rig "shows a card" by
writing its line on the master, or writes any bytes it likes (bad lines, noise) to test the driver.
"""
from __future__ import annotations

import os
import tty

from controller.formats.rfid_line import encode


class RfidReaderSim:
    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # bytes pass unchanged: no echo, no line editing
        self.port = os.ttyname(self._slave)
        self.shown: list[tuple[str, str]] = []

    def show(self, id_token: str, token_type: str = "ISO14443") -> None:
        """A card held to the reader: one line, as the reader sends it."""
        self.shown.append((id_token, token_type))
        self.send(encode(id_token, token_type))

    def send(self, data: bytes) -> None:
        os.write(self._master, data)

    def close(self) -> None:
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
