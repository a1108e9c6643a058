"""TLS for the rig's car over an asyncio stream through the ssl module's memory BIOs, so that the bytes on
the wire are seen: the car's pcap then holds the real TLS records, which the key log decrypts (Wireshark,
`charger-v2g pcap`). It offers what V2gtpClient uses of a StreamReader and a StreamWriter.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from typing import Callable

Wire = Callable[[float, str, bytes], None]  # (time.time(), "ev" or "secc", the bytes)
READ_SIZE = 65536


class TlsClientStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext):
        self._reader, self._writer = reader, writer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=False)
        self._plain = bytearray()
        self.early_wire: list[tuple[float, str, bytes]] = []  # what crossed before `on_wire` was set
        self.on_wire: Wire | None = None

    def peer_serial(self) -> str:
        """The serial number (hex) of the leaf the station showed, "" before the handshake."""
        try:
            return (self._tls.getpeercert() or {}).get("serialNumber", "")
        except ValueError:
            return ""

    def describe(self) -> str:
        cipher = self._tls.cipher()
        return f"{self._tls.version()} {cipher[0]}" if cipher else ""

    async def handshake(self) -> None:
        """ssl.SSLCertVerificationError when the station's chain is not trusted (its alert is sent first)."""
        try:
            while True:
                try:
                    self._tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await self._flush()
                    if not await self._fill():
                        raise ConnectionResetError("the SECC closed the connection in the TLS handshake") from None
        except ssl.SSLError:
            await self._flush()  # the alert, so the SECC learns why
            raise
        await self._flush()

    def _seen(self, side: str, data: bytes) -> None:
        t = time.time()
        if self.on_wire is None:
            self.early_wire.append((t, side, data))
        else:
            self.on_wire(t, side, data)

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._seen("ev", data)
            self._writer.write(data)
            await self._writer.drain()

    async def _fill(self) -> bool:
        data = await self._reader.read(READ_SIZE)
        if not data:
            return False
        self._seen("secc", data)
        self._incoming.write(data)
        return True

    # ---- what V2gtpClient uses -------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        self._tls.write(data)

    async def drain(self) -> None:
        await self._flush()

    async def readexactly(self, n: int) -> bytes:
        while len(self._plain) < n:
            try:
                self._plain += self._tls.read(READ_SIZE)
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:  # the SECC's close_notify
                raise asyncio.IncompleteReadError(bytes(self._plain), n) from None
            if not await self._fill():
                raise asyncio.IncompleteReadError(bytes(self._plain), n)
        out = bytes(self._plain[:n])
        del self._plain[:n]
        return out

    def close(self) -> None:
        try:
            self._tls.unwrap()  # close_notify into the outgoing BIO
        except ssl.SSLError:
            pass
        data = self._outgoing.read()
        if data and not self._writer.is_closing():
            self._seen("ev", data)
            self._writer.write(data)
        self._writer.close()

    async def wait_closed(self) -> None:
        await self._writer.wait_closed()
