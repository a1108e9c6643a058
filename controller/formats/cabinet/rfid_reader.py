"""The cabinet file's card readers: [connectors.rfid] (one per connector) or [rfid] (one for the cabinet)."""
from __future__ import annotations

from dataclasses import dataclass

from controller.formats.cabinet.loader import ConfigError


@dataclass(frozen=True)
class RfidReaderConfig:
    """An RFID card reader on a serial port speaking our line protocol (docs/rfid-reader-protocol.md)."""
    port: str  # a device path (/dev/ttyUSB0) or a pyserial URL
    baudrate: int = 9600  # 8N1
    repeat_ignore_s: float = 2.0  # the same card again within this is the reader repeating, not a new tap

    def check(self) -> None:
        if not self.port:
            raise ConfigError("port", "the reader's serial port is needed")
        if self.baudrate <= 0:
            raise ConfigError("baudrate", f"must be positive (got {self.baudrate})")
