"""The car's side of the stand-in EV-session link (JSON lines over TCP)."""
from __future__ import annotations

import asyncio
import json


class EvLinkError(RuntimeError):
    pass


class EvLinkClient:
    def __init__(self, host: str, port: int, timeout_s: float = 2.0):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout_s)

    async def request(self, op: str, **fields) -> dict:
        if self._writer is None:
            raise EvLinkError("not connected")
        self._writer.write((json.dumps({"op": op, **fields}) + "\n").encode())
        try:
            await self._writer.drain()
            line = await asyncio.wait_for(self._reader.readline(), self.timeout_s)
        except (asyncio.TimeoutError, ConnectionError) as exc:
            raise EvLinkError(f"{op}: no answer ({exc.__class__.__name__})") from None
        if not line:
            raise EvLinkError(f"{op}: link closed")
        answer = json.loads(line)
        if "error" in answer:
            raise EvLinkError(f"{op}: {answer['error']}")
        return answer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:
                pass
            self._writer = None
