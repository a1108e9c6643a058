"""Configuration of the Modbus devices: the link (TCP or RTU serial), the energy meter and the IMD.

Frozen dataclasses in the style of controller.formats.cabinet.config, meant to be built by controller.formats.cabinet.loader.build
from a cabinet's TOML, e.g.

    [connectors.meter]
    model = "acrel_djsf1352_rn"
    unit_id = 1
    link = { transport = "rtu", serial_port = "/dev/ttyS1", baudrate = 9600, parity = "N" }

    [connectors.imd]
    unit_id = 3
    warning_below_ohm = 500_000
    link = { transport = "rtu", serial_port = "/dev/ttyS2", baudrate = 19200, parity = "E" }
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from controller.formats.modbus import ModelError, load_model


@dataclass(frozen=True)
class ModbusLinkConfig:
    transport: Literal["tcp", "rtu"] = "tcp"  # tcp (Modbus TCP) or rtu (RS-485 serial)
    host: str = "127.0.0.1"  # tcp
    port: int = 502  # tcp
    serial_port: str = ""  # rtu: device path such as /dev/ttyUSB0
    baudrate: int = 19200  # rtu
    parity: Literal["N", "E", "O"] = "N"  # rtu
    stopbits: int = 1  # rtu
    bytesize: int = 8  # rtu
    connect_timeout_s: float = 1.0  # opening the TCP connection or serial port may take this long

    def check(self) -> None:
        if self.transport == "tcp":
            if not self.host:
                raise ValueError("host: a tcp link needs a host")
            if not 1 <= self.port <= 65535:
                raise ValueError(f"port: {self.port} is not a TCP port (1..65535)")
        else:
            if not self.serial_port:
                raise ValueError("serial_port: an rtu link needs a serial port path")
            if self.baudrate <= 0:
                raise ValueError("baudrate: must be positive")
            if self.stopbits not in (1, 2):
                raise ValueError("stopbits: must be 1 or 2")
            if self.bytesize not in (7, 8):
                raise ValueError("bytesize: must be 7 or 8")
        if self.connect_timeout_s <= 0:
            raise ValueError("connect_timeout_s: must be positive")

    def describe(self) -> str:
        if self.transport == "tcp":
            return f"tcp {self.host}:{self.port}"
        return f"rtu {self.serial_port} {self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


def _check_device(kind: str, model: str, unit_id: int, transport: str, poll_period_s: float, timeout_s: float,
                  retries: int, stale_after_s: float) -> None:
    try:
        found = load_model(model)
    except ModelError as exc:
        raise ValueError(f"model: {exc.reason}") from None
    if found.kind != kind:
        raise ValueError(f"model: {model!r} is a register map of kind {found.kind!r}, expected {kind!r}")
    # RTU addresses are 1..247; TCP gateways also use 0 and 255
    low, high = (1, 247) if transport == "rtu" else (0, 255)
    if not low <= unit_id <= high:
        raise ValueError(f"unit_id: {unit_id} is outside {low}..{high} for {transport}")
    if poll_period_s <= 0 or timeout_s <= 0:
        raise ValueError("poll_period_s: poll period and timeout must be positive")
    if retries < 0:
        raise ValueError("retries: must be 0 or more")
    if stale_after_s <= poll_period_s:
        raise ValueError("stale_after_s: must be longer than the poll period")


@dataclass(frozen=True)
class MeterConfig:
    link: ModbusLinkConfig = field(default_factory=ModbusLinkConfig)  # how the meter is reached: { transport, host, port } or { transport, serial_port, ... }
    model: str = "acrel_djsf1352_rn"  # register map in controller/formats/modbus
    unit_id: int = 1  # the meter's Modbus unit (slave) id
    poll_period_s: float = 1.0  # the meter is read this often
    timeout_s: float = 0.5  # per attempt
    retries: int = 1  # further attempts after a timeout or a garbled reply
    stale_after_s: float = 3.0  # a reading older than this is not fresh
    # energy the meter's own power readings may add before an unchanged energy register counts as frozen
    frozen_margin_wh: float = 50.0

    def check(self) -> None:
        _check_device("meter", self.model, self.unit_id, self.link.transport, self.poll_period_s, self.timeout_s,
                      self.retries, self.stale_after_s)
        if self.frozen_margin_wh <= 0:
            raise ValueError("frozen_margin_wh: must be positive")


@dataclass(frozen=True)
class ImdConfig:
    link: ModbusLinkConfig = field(default_factory=ModbusLinkConfig)  # how the IMD is reached: { transport, host, port } or { transport, serial_port, ... }
    model: str = "bender_isocha425hv"  # register map in controller/formats/modbus
    unit_id: int = 3  # the IMD's Modbus unit (slave) id
    poll_period_s: float = 1.0  # the IMD is read this often
    timeout_s: float = 0.5  # one request waits this long for the answer
    retries: int = 1  # a failed request is repeated this many times before the poll fails
    stale_after_s: float = 3.0  # no valid reading this long: the IMD's value counts as stale
    fault_below_ohm: float = 100_000.0  # PROTOCOL-FACTS: fault below 100 kohm
    warning_below_ohm: float = 500_000.0  # insulation below this: a warning (IEC 61851-23: at least 500 ohm/V)
    hysteresis: float = 0.1  # a raised isolation fault or warning clears only above threshold * (1 + this)
    write_alarm_thresholds: bool = True  # set the device's own R1/R2 alarms to the two thresholds at start

    def check(self) -> None:
        _check_device("imd", self.model, self.unit_id, self.link.transport, self.poll_period_s, self.timeout_s,
                      self.retries, self.stale_after_s)
        if self.fault_below_ohm <= 0:
            raise ValueError("fault_below_ohm: must be positive")
        if self.warning_below_ohm < self.fault_below_ohm:
            raise ValueError("warning_below_ohm: must not be below fault_below_ohm")
        if not 0 <= self.hysteresis < 1:
            raise ValueError("hysteresis: must be in 0..1")
        if self.write_alarm_thresholds and self.warning_below_ohm / 1000 > 0xFFFF:
            raise ValueError("warning_below_ohm: too large for the device's kohm register")
