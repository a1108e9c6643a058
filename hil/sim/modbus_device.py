"""A simulated Modbus device: a pymodbus server whose registers come from a register map and the plant.

Subclasses fill `registers()` (address -> value, computed when a request arrives) and may accept writes in
`write(address, value)`. The server speaks TCP (loopback, ephemeral port by default) or RTU on a serial
path (e.g. one end of a PtyLink). Fault injection, settable at any time:
  silent          the device stops answering
  garble          replies are corrupted (RTU: bad CRC; TCP: broken MBAP header)
  exception_code  every request gets this Modbus exception response
"""
from __future__ import annotations

import logging

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from controller.formats.modbus import RegisterModel

log = logging.getLogger(__name__)


class ModbusDeviceSim:
    def __init__(self, model: RegisterModel, unit_id: int, extra_registers: tuple[int, ...] = ()):
        self.model = model
        self.unit_id = unit_id
        self.silent = False
        self.garble = False
        self.exception_code: int | None = None
        self.requests = 0
        self.writes: list[tuple[int, int]] = []  # (address, value) accepted, oldest first
        self._extra = extra_registers
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self.port = 0  # bound TCP port after start_tcp

    # --- what subclasses provide ---
    def registers(self) -> dict[int, int]:
        """Current register contents by address (read at the moment a request arrives)."""
        raise NotImplementedError

    def write(self, address: int, value: int) -> bool:
        """Accept a write to one register; False answers "illegal data value"."""
        return False

    # --- serving ---
    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP; returns the bound port (an ephemeral one when `port` is 0)."""
        self._server = ModbusTcpServer(self._device(), address=(host, port), trace_packet=self._trace)
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]
        log.info("%s simulator on tcp %s:%d unit %d", self.model.name, host, self.port, self.unit_id)
        return self.port

    async def start_rtu(self, serial_port: str, baudrate: int = 19200, parity: str = "N", stopbits: int = 1,
                        bytesize: int = 8) -> None:
        """Serve Modbus RTU on a serial device path."""
        self._server = ModbusSerialServer(self._device(), framer=FramerType.RTU, port=serial_port,
                                          baudrate=baudrate, parity=parity, stopbits=stopbits, bytesize=bytesize,
                                          trace_packet=self._trace)
        await self._server.serve_forever(background=True)
        log.info("%s simulator on rtu %s unit %d", self.model.name, serial_port, self.unit_id)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def _device(self) -> SimDevice:
        # one SimData per contiguous span; the gaps between spans answer "illegal data address"
        addresses = sorted({a for block in self.model.read_plan for a in range(block.address,
                                                                                 block.address + block.count)}
                           | set(self._extra)
                           | {w.address for w in (*self.model.commands.values(), *self.model.settings.values())})
        spans: list[list[int]] = []
        for a in addresses:
            if spans and a == spans[-1][1] + 1:
                spans[-1][1] = a
            else:
                spans.append([a, a])
        simdata = [SimData(start, count=end - start + 1, values=0, datatype=DataType.REGISTERS)
                   for start, end in spans]
        return SimDevice(id=self.unit_id, simdata=simdata, action=self._action)

    async def _action(self, function: int, start: int, address: int, count: int, regs: list[int],
                      values: list[int] | None) -> ExcCodes | None:
        self.requests += 1
        if self.exception_code is not None:
            return ExcCodes(self.exception_code)
        if values is not None:
            for i, value in enumerate(values):
                if not self.write(address + i, value):
                    return ExcCodes.ILLEGAL_VALUE
                self.writes.append((address + i, value))
            return None
        if function in (3, 4):
            used = {self.model.function_of(a) for a in range(address, address + count)} - {None}
            if used and used != {function}:
                return ExcCodes.ILLEGAL_FUNCTION  # e.g. input registers read as holding registers
        for a, value in self.registers().items():
            if 0 <= a - start < len(regs):
                regs[a - start] = value
        return None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        if self.silent:
            return b""
        if self.garble:
            return _garbled(data, self._server)
        return data


def _garbled(frame: bytes, server: ModbusTcpServer | ModbusSerialServer | None) -> bytes:
    corrupt = bytearray(frame)
    if isinstance(server, ModbusSerialServer):
        corrupt[len(corrupt) // 2] ^= 0x5A  # the CRC no longer matches
    else:
        corrupt[2:4] = b"\xde\xad"  # the MBAP protocol id must be 0
    return bytes(corrupt)
