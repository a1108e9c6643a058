"""One Modbus link (a pymodbus async client over TCP or RTU serial) and the reads and writes the drivers need.

Every failure comes out as one error type, `ModbusDeviceError(reason, kind)`:
  "timeout"    no reply within the timeout
  "exception"  the device answered with a Modbus exception response
  "garbled"    bytes came back but did not make a valid reply (bad CRC, broken framing, wrong length)
  "closed"     the link is not open and cannot be opened (no route, port refused, no serial device)
pymodbus' own retries are off: the link retries itself so that it can tell each attempt's failure apart
(pymodbus silently drops a frame with a bad CRC; only the bytes seen by the packet trace show it came).
Requests are serialised with a lock, so devices on one RS-485 bus can share a link.
"""
from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Awaitable, Callable, Literal

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from controller.formats.cabinet.modbus_devices import ModbusLinkConfig
from controller.formats.modbus import ReadBlock, RegisterModel
from controller.formats.modbus.codec import RegisterDecodeError

log = logging.getLogger(__name__)


class _ConnectFailuresReportedByTheLink(logging.Filter):
    """pymodbus logs every failed connect (ten lines a second for a device that is away); the link logs one line
    when a device is lost and one when it is back, so these are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to connect")


logging.getLogger("pymodbus.logging").addFilter(_ConnectFailuresReportedByTheLink())

ErrorKind = Literal["timeout", "exception", "garbled", "closed"]
RX_SHOWN_BYTES = 24  # how much of an undecodable reply goes into the error text


class ModbusDeviceError(Exception):
    def __init__(self, reason: str, kind: ErrorKind):
        super().__init__(f"{kind}: {reason}")
        self.reason = reason
        self.kind = kind


@dataclass
class LinkCounters:
    requests: int = 0
    timeouts: int = 0
    exceptions: int = 0
    garbled: int = 0
    closed: int = 0

    def count(self, kind: ErrorKind) -> None:
        name = {"timeout": "timeouts", "exception": "exceptions"}.get(kind, kind)
        setattr(self, name, getattr(self, name) + 1)


def create_client(cfg: ModbusLinkConfig, trace_packet: Callable[[bool, bytes], bytes]) -> ModbusBaseClient:
    """A pymodbus async client for `cfg`, with reconnects and retries left to the caller."""
    common = dict(timeout=cfg.connect_timeout_s, retries=0, reconnect_delay=0, trace_packet=trace_packet)
    if cfg.transport == "tcp":
        return AsyncModbusTcpClient(cfg.host, port=cfg.port, **common)
    return AsyncModbusSerialClient(cfg.serial_port, framer=FramerType.RTU, baudrate=cfg.baudrate,
                                   bytesize=cfg.bytesize, parity=cfg.parity, stopbits=cfg.stopbits, **common)


class ModbusLink:
    def __init__(self, cfg: ModbusLinkConfig):
        cfg.check()
        self.cfg = cfg
        self.counters = LinkCounters()
        self._client: ModbusBaseClient | None = None
        self._lock = asyncio.Lock()
        self._rx = b""  # bytes received since the current attempt was sent
        self._reachable: bool | None = None  # the last connect's outcome: one log line when it changes

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        """Open the link if it is not open; raises ModbusDeviceError("closed") when that fails."""
        if self.connected:
            return
        self._drop()
        self._client = create_client(self.cfg, self._trace)
        try:
            ok = await self._client.connect()
        except Exception as exc:  # pyserial and termios raise their own types for a bad port
            ok, why = False, f"{type(exc).__name__}: {exc}"
        else:
            why = "refused or unreachable" if self.cfg.transport == "tcp" else "cannot open the serial port"
            if self.cfg.transport == "rtu" and not os.path.exists(self.cfg.serial_port):
                why = "no such serial device"
        if not ok:
            self._drop()
            if self._reachable is not False:
                log.warning("%s: cannot connect (%s); retrying, quietly until it is back", self.cfg.describe(), why)
                self._reachable = False
            raise ModbusDeviceError(f"cannot connect to {self.cfg.describe()} ({why})", "closed")
        if self._reachable is False:
            log.warning("%s: connected again", self.cfg.describe())
        self._reachable = True

    def close(self) -> None:
        self._drop()

    async def read_registers(self, unit_id: int, function: int, address: int, count: int, *,
                             timeout_s: float, retries: int) -> list[int]:
        what = f"read of {count} registers at {address} (function {function}) from unit {unit_id}"

        def call() -> Awaitable[ModbusPDU]:
            read = self._client.read_holding_registers if function == 3 else self._client.read_input_registers
            return read(address, count=count, device_id=unit_id)

        def check(pdu: ModbusPDU) -> list[int]:
            if len(pdu.registers) != count:
                raise ModbusDeviceError(f"{what}: reply holds {len(pdu.registers)} registers", "garbled")
            return list(pdu.registers)

        return await self._request(what, call, check, timeout_s, retries)

    async def write_register(self, unit_id: int, address: int, value: int, *, timeout_s: float,
                             retries: int) -> None:
        what = f"write of {value:#06x} to register {address} of unit {unit_id}"

        def call() -> Awaitable[ModbusPDU]:
            return self._client.write_register(address, value, device_id=unit_id)

        def check(pdu: ModbusPDU) -> None:
            if pdu.address != address or list(pdu.registers) != [value]:
                raise ModbusDeviceError(f"{what}: echo does not match ({pdu.address}, {pdu.registers})", "garbled")

        await self._request(what, call, check, timeout_s, retries)

    async def read_model(self, unit_id: int, model: RegisterModel, *, timeout_s: float,
                         retries: int) -> dict[str, float]:
        """Every value of `model`, read with the model's read plan and decoded."""
        blocks: dict[ReadBlock, list[int]] = {}
        for block in model.read_plan:
            blocks[block] = await self.read_registers(unit_id, block.function, block.address, block.count,
                                                      timeout_s=timeout_s, retries=retries)
        try:
            return model.decode(blocks)
        except RegisterDecodeError as exc:
            self.counters.count("garbled")
            raise ModbusDeviceError(f"{model.name} from unit {unit_id}: {exc}", "garbled") from None

    async def _request(self, what: str, call, check, timeout_s: float, retries: int):
        async with self._lock:
            for attempt in range(retries + 1):
                self.counters.requests += 1
                try:
                    return check(await self._attempt(what, call, timeout_s))
                except ModbusDeviceError as err:
                    self.counters.count(err.kind)
                    if err.kind in ("exception", "closed") or attempt == retries:
                        if self.cfg.transport == "tcp" and err.kind in ("timeout", "garbled"):
                            self._drop()  # start the next request on a fresh connection, free of stray bytes
                        raise
                    log.debug("%s: attempt %d failed: %s", self.cfg.describe(), attempt + 1, err)

    async def _attempt(self, what: str, call, timeout_s: float) -> ModbusPDU:
        await self.connect()
        self._rx = b""
        try:
            async with asyncio.timeout(timeout_s):
                pdu = await call()
        except (TimeoutError, ModbusIOException):
            raise self._no_valid_reply(what, timeout_s) from None
        except ConnectionException as exc:
            self._drop()
            raise ModbusDeviceError(f"{what}: link closed ({exc})", "closed") from None
        except ModbusException as exc:
            raise ModbusDeviceError(f"{what}: {exc}", "garbled") from None
        if pdu.isError():
            raise ModbusDeviceError(f"{what}: exception {_exception_name(pdu.exception_code)}", "exception")
        return pdu

    def _no_valid_reply(self, what: str, timeout_s: float) -> ModbusDeviceError:
        if not self.connected:
            self._drop()
            return ModbusDeviceError(f"{what}: the device closed the connection", "closed")
        if self._rx:
            shown = self._rx[:RX_SHOWN_BYTES].hex(" ")
            more = "..." if len(self._rx) > RX_SHOWN_BYTES else ""
            return ModbusDeviceError(f"{what}: {len(self._rx)} bytes that are no valid reply (bad CRC or "
                                     f"framing): {shown}{more}", "garbled")
        return ModbusDeviceError(f"{what}: no reply within {timeout_s:g} s", "timeout")

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._rx = data  # pymodbus passes its whole receive buffer
        return data

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _exception_name(code: int) -> str:
    try:
        return f"{code} ({ExcCodes(code).name.lower()})"
    except ValueError:
        return str(code)
