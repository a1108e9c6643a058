"""V2GTP over TCP, EV side: the rig's car sends a request and waits for the SECC's answer (framing, timeouts).

Timeouts follow the EV's request timeouts of DIN 70121 / ISO 15118-2 (2 s for most messages, 250 ms for
CurrentDemand); the caller passes the one that applies. Every failure is a V2gtpClientError with the reason.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import time

from controller.formats.v2g import v2gtp
from hil.ev.process_stalls import StallMeter, wait_with_stalls
from hil.ev.tls_stream import TlsClientStream

REQUEST_TIMEOUT_S = 2.0


class V2gtpClientError(ConnectionError):
    pass


class V2gtpUntrusted(V2gtpClientError):
    """TLS: the station's certificate chain does not lead to a V2G root the car holds, or is not valid now."""


def new_tcp_socket() -> socket.socket:
    """An unconnected IPv6 TCP socket; create it inside the car's network namespace in the veth mode."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


class V2gtpClient:
    def __init__(self, reader: asyncio.StreamReader | TlsClientStream, writer: asyncio.StreamWriter | TlsClientStream,
                 max_payload_length: int = v2gtp.MAX_PAYLOAD_LENGTH, stalls: StallMeter | None = None):
        self._reader = reader
        self._writer = writer
        self.max_payload_length = max_payload_length
        self.round_trips: list[float] = []  # seconds, request written to answer read
        self.stalls = stalls  # the car's stall meter (hil/ev/process_stalls.py): its waits move by the stalls
        self.tls_stream = writer if isinstance(writer, TlsClientStream) else None  # its wire bytes: for the pcap
        self.tls = self.tls_stream.describe() if self.tls_stream is not None else ""  # "" on plain TCP
        self.tls_leaf = self.tls_stream.peer_serial() if self.tls_stream is not None else ""  # the SECC leaf's serial

    @classmethod
    async def connect(cls, address: tuple, *, sock: socket.socket | None = None,
                      timeout_s: float = REQUEST_TIMEOUT_S, tls: ssl.SSLContext | None = None,
                      stalls: StallMeter | None = None) -> V2gtpClient:
        """Connect to `address` ((host, port) or (host, port, flowinfo, scope id) for link-local); with `tls`,
        do the TLS handshake too (a station whose chain the context does not trust: V2gtpUntrusted). `stalls`:
        the car's stall meter (the waits move by its stalls; the client keeps it for its requests)."""
        loop = asyncio.get_running_loop()
        sock = sock or new_tcp_socket()
        try:
            await wait_with_stalls(loop.sock_connect(sock, address), timeout_s, stalls)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small request/answer pairs
            reader, writer = await asyncio.open_connection(sock=sock)
        except (OSError, asyncio.TimeoutError) as exc:
            sock.close()
            raise V2gtpClientError(f"cannot connect to {address[0]} port {address[1]}: "
                                   f"{exc.__class__.__name__} {exc}".strip()) from None
        if tls is None:
            return cls(reader, writer, stalls=stalls)
        stream = TlsClientStream(reader, writer, tls)
        try:
            await wait_with_stalls(stream.handshake(), timeout_s, stalls)
        except ssl.SSLCertVerificationError as exc:
            stream.close()
            raise V2gtpUntrusted(f"refused the station's certificate: {exc.verify_message}") from None
        except (ssl.SSLError, OSError, asyncio.TimeoutError) as exc:
            stream.close()
            raise V2gtpClientError(f"TLS handshake with {address[0]} port {address[1]} failed: "
                                   f"{exc.__class__.__name__} {exc}".strip()) from None
        return cls(stream, stream, stalls=stalls)

    async def request(self, payload: bytes, timeout_s: float = REQUEST_TIMEOUT_S) -> bytes:
        """Send one EXI payload and return the answer's payload. With `self.stalls`, time the car's own process
        was not scheduled does not count against `timeout_s` (hil/ev/process_stalls.py)."""
        sent_t = time.monotonic()
        self._writer.write(v2gtp.build_frame(v2gtp.PAYLOAD_EXI, payload))
        try:
            await self._writer.drain()
            answer = await wait_with_stalls(self._read_frame(), timeout_s, self.stalls)
        except V2gtpClientError:
            raise
        except asyncio.TimeoutError:
            raise V2gtpClientError(f"no answer within {timeout_s} s") from None
        except asyncio.IncompleteReadError:
            raise V2gtpClientError("the SECC closed the connection") from None
        except (ConnectionError, OSError) as exc:
            raise V2gtpClientError(f"connection lost: {exc}") from None
        self.round_trips.append(time.monotonic() - sent_t)
        return answer

    async def _read_frame(self) -> bytes:
        head = await self._reader.readexactly(v2gtp.HEADER_LENGTH)
        try:
            header = v2gtp.parse_header(head, self.max_payload_length)
        except v2gtp.V2gtpError as exc:
            raise V2gtpClientError(f"bad answer frame: {exc}") from None
        if header.payload_type != v2gtp.PAYLOAD_EXI:
            raise V2gtpClientError(f"answer payload type {header.payload_type:#06x} is not EXI")
        return await self._reader.readexactly(header.payload_length)

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
