"""A Modbus TCP observer: a loopback proxy between the controller and one of the rig's Modbus devices.

The controller's link is pointed at the tap (a config override), the tap forwards every byte both ways and
notes, for each read reply, the wall-clock time at which it hands the reply to the controller, with the
registers it carries. That is the Modbus side of the bus observer: the moment a reading reaches the wire.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

_MBAP = 7  # transaction id, protocol id, length, unit id
_READS = (3, 4)  # read holding / input registers


@dataclass(frozen=True)
class ReadReply:
    t: float  # wall clock (time.time()) when handed to the controller
    start: int
    registers: tuple[int, ...]

    def words(self) -> dict[int, int]:
        return {self.start + i: word for i, word in enumerate(self.registers)}


class ModbusTap:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.host = host
        self.upstream_port = upstream_port
        self.replies: list[ReadReply] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()  # one per connection

    async def start(self) -> int:
        """Listen on an ephemeral loopback port; returns it."""
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for handler in list(self._handlers):
            handler.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=1.0)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        self._handlers.add(handler)
        device_writer: asyncio.StreamWriter | None = None
        pumps: list[asyncio.Task] = []
        try:
            device_reader, device_writer = await asyncio.open_connection(self.host, self.upstream_port)
            requests: dict[int, int] = {}  # transaction id -> start address of a read
            pumps = [asyncio.create_task(self._requests(client_reader, device_writer, requests)),
                     asyncio.create_task(self._replies(device_reader, client_writer, requests))]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.CancelledError):
            pass  # the device is gone, or the tap stops: this connection ends either way
        finally:
            for pump in pumps:
                pump.cancel()
            try:
                await asyncio.gather(*pumps, return_exceptions=True)
            except asyncio.CancelledError:
                pass  # stop() came while a pump was ending on its own
            for writer in (client_writer, device_writer):
                if writer is not None:
                    writer.close()
            self._handlers.discard(handler)

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> bytes:
        header = await reader.readexactly(_MBAP)
        length = int.from_bytes(header[4:6], "big")
        return header + await reader.readexactly(max(0, length - 1))

    async def _requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        requests: dict[int, int]) -> None:
        while True:
            frame = await self._frame(reader)
            if len(frame) >= _MBAP + 5 and frame[_MBAP] in _READS:
                requests[int.from_bytes(frame[0:2], "big")] = int.from_bytes(frame[_MBAP + 1:_MBAP + 3], "big")
            writer.write(frame)
            await writer.drain()

    async def _replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       requests: dict[int, int]) -> None:
        while True:
            frame = await self._frame(reader)
            start = requests.pop(int.from_bytes(frame[0:2], "big"), None)
            t = time.time()
            writer.write(frame)
            if start is not None and len(frame) > _MBAP + 2 and frame[_MBAP] in _READS:
                data = frame[_MBAP + 2:_MBAP + 2 + frame[_MBAP + 1]]
                words = tuple(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2))
                self.replies.append(ReadReply(t, start, words))
            await writer.drain()
