"""V2GTP over TCP, SECC side: framing, limits, one session per connector, timing of every exchange.

Each connection gets a `MessageHandler` from the factory (the SECC's session); each complete EXI frame is
passed to `on_message(payload)` and its answer (if any) is framed and sent back before the next frame is
read, so a session sees its requests strictly in order.

One connection at a time: a new connection *replaces* the current one (closed with reason "replaced").
A car that lost its connection and reconnects must not be locked out by a half-open socket, and on a
matched PLC link the only peer is that car.

With a TLS context the server also listens on a second socket for cars that asked for TLS in SDP; both
listeners share the one-connection rule (a TLS connection replaces a plain one and the other way round).

A bad frame (wrong version bytes, a payload longer than the limit, a payload type other than EXI) closes
the connection at once with the reason; so does silence longer than `idle_timeout_s` (the standard's
V2G_SECC_Sequence_Timeout, 60 s) and a handler that raises.
"""
from __future__ import annotations

import asyncio
import collections
import errno
import logging
import random
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from controller.formats.v2g import v2gtp
from controller.v2g.ipv6_link import interface_index, link_local_address

log = logging.getLogger(__name__)

SEQUENCE_TIMEOUT_S = 60.0
KEPT_EXCHANGES = 1000
# The SECC's TCP port must be a dynamic port (RFC 6335, ISO 15118-2 [V2G2-676]): cars (Josev) refuse others.
# The kernel's own choice for port 0 comes from 32768-60999 on Linux, so we choose within the range ourselves.
DYNAMIC_PORTS = range(49152, 65536)
PORT_TRIES = 64
# How long a closed connection may take to go (over TLS: the car's close_notify); then it is cut. A car that
# reconnects waits this long at most for its old connection to make way.
CLOSE_WAIT_S = 1.0


class MessageHandler(Protocol):
    async def on_message(self, payload: bytes) -> bytes | None: ...


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, on the monotonic clock: for answer-time statistics and benchmarks."""
    request_t: float       # the request's last byte was read
    answer_t: float | None  # the answer was handed to the socket (None: no answer)
    request_bytes: int
    answer_bytes: int

    @property
    def answer_s(self) -> float | None:
        return None if self.answer_t is None else self.answer_t - self.request_t


@dataclass
class V2gtpConnection:
    peer: tuple
    opened_t: float = field(default_factory=time.monotonic)
    exchanges: collections.deque[Exchange] = field(default_factory=lambda: collections.deque(maxlen=KEPT_EXCHANGES))
    close_reason: str | None = None
    tls: str = ""  # "TLSv1.2 <cipher>" over TLS; "" on plain TCP
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    def close(self, reason: str) -> None:
        """Close the connection (the SECC after SessionStop, on a sequence error or malformed EXI)."""
        if self.close_reason is None:
            self.close_reason = reason
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
            if self.tls:  # a TLS close waits for the car's close_notify, which a gone car never sends: cut it then
                transport = self._writer.transport
                try:
                    asyncio.get_running_loop().call_later(CLOSE_WAIT_S, transport.abort)
                except RuntimeError:  # no loop running (closing at shutdown): cut it now
                    transport.abort()


def open_v2gtp_socket(interface: str | None, *, host: str = "::1", port: int = 0,
                      choose: Callable[[], int] | None = None) -> socket.socket:
    """The listening TCP socket: on the interface's link-local address (scoped), or on `host` when None.

    `port` 0: a free port chosen at random in 49152-65535 (`choose` picks the candidates, for tests); another
    port must lie in that range. Synchronous, so it can run on a thread inside another network namespace.
    """
    if port and port not in DYNAMIC_PORTS:
        raise ValueError(f"V2GTP port {port} is not a dynamic port (49152-65535)")
    choose = choose or (lambda: random.randrange(DYNAMIC_PORTS.start, DYNAMIC_PORTS.stop))
    address = (host,) if interface is None else (link_local_address(interface),)
    scope = () if interface is None else (0, interface_index(interface))
    for attempt in range(1 if port else PORT_TRIES):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((*address, port or choose(), *scope))
            sock.listen(4)
            sock.setblocking(False)
            return sock
        except OSError as exc:
            sock.close()
            if port or exc.errno != errno.EADDRINUSE or attempt == PORT_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def describe_tls(ssl_object: ssl.SSLObject | None) -> str:
    """"TLSv1.2 ECDHE-ECDSA-AES128-SHA256" for a TLS connection, "" for plain TCP."""
    if ssl_object is None:
        return ""
    cipher = ssl_object.cipher()
    return f"{ssl_object.version()} {cipher[0] if cipher else '?'}"


class V2gtpServer:
    def __init__(self, sock: socket.socket, handler_factory: Callable[[V2gtpConnection], MessageHandler], *,
                 max_payload_length: int = v2gtp.MAX_PAYLOAD_LENGTH,
                 idle_timeout_s: float | None = SEQUENCE_TIMEOUT_S,
                 on_open: Callable[[V2gtpConnection], None] | None = None,
                 on_close: Callable[[V2gtpConnection, str], None] | None = None,
                 on_exchange: Callable[[V2gtpConnection, Exchange], None] | None = None,
                 tls_sock: socket.socket | None = None, tls_context: ssl.SSLContext | None = None,
                 tls_handshake_timeout_s: float = 5.0):
        if (tls_sock is None) != (tls_context is None):
            raise ValueError("TLS needs both a listening socket and a context")
        self._sock = sock
        self._tls_sock, self._tls_context = tls_sock, tls_context
        self.tls_handshake_timeout_s = tls_handshake_timeout_s
        self._tls_server: asyncio.base_events.Server | None = None
        self.tls_failures = 0  # handshakes that failed (e.g. a car that refused our certificate)
        self.last_tls_failure = ""
        self.handler_factory = handler_factory
        self.max_payload_length = max_payload_length
        self.idle_timeout_s = idle_timeout_s
        self.on_open, self.on_close, self.on_exchange = on_open, on_close, on_exchange
        self.connection: V2gtpConnection | None = None
        self._current: asyncio.Task | None = None
        self._server: asyncio.base_events.Server | None = None

    @property
    def address(self) -> tuple:
        """(host, port[, flowinfo, scope id]) the server listens on."""
        return self._sock.getsockname()

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    @property
    def tls_port(self) -> int | None:
        """The TLS listener's port; None without TLS."""
        return None if self._tls_sock is None else self._tls_sock.getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, sock=self._sock)
        if self._tls_sock is not None:
            self._tls_server = await asyncio.start_server(self._accept_tls, sock=self._tls_sock)

    async def add_tls(self, tls_sock: socket.socket, tls_context: ssl.SSLContext) -> None:
        """Serve TLS on `tls_sock` from now on (a SECC leaf signed while running; started or not). The
        socket is the caller's to close, as the one given to the constructor."""
        if self._tls_sock is not None:
            raise ValueError("this server already has a TLS listener")
        self._tls_sock, self._tls_context = tls_sock, tls_context
        if self._server is not None:
            try:
                self._tls_server = await asyncio.start_server(self._accept_tls, sock=tls_sock)
            except BaseException:
                self._tls_sock = self._tls_context = None
                raise

    async def close(self) -> None:
        for server in (self._server, self._tls_server):
            if server is not None:
                server.close()
        if self.connection is not None:
            self.connection.close("server closed")
        if self._current is not None:
            await asyncio.gather(self._current, return_exceptions=True)
        for server in (self._server, self._tls_server):
            if server is not None:
                await server.wait_closed()
        self._server = self._tls_server = None

    async def _accept_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The handshake first, here rather than inside asyncio, so that a failed one is logged with its reason
        (asyncio drops it silently): a car refusing the SECC's certificate is what a technician must see."""
        try:
            await writer.start_tls(self._tls_context, ssl_handshake_timeout=self.tls_handshake_timeout_s)
        except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError) as exc:
            self.tls_failures += 1
            if isinstance(exc, ssl.SSLError):  # e.g. TLSV1_ALERT_UNKNOWN_CA: the car does not trust our chain
                self.last_tls_failure = exc.reason or str(exc)
            elif isinstance(exc, asyncio.TimeoutError):
                self.last_tls_failure = f"no handshake within {self.tls_handshake_timeout_s} s"
            else:  # a car that gives up on our certificate may drop the connection without an alert
                self.last_tls_failure = "the car closed the connection in the handshake"
            log.warning("V2GTP: TLS handshake with %s failed: %s", (writer.get_extra_info("peername") or ("?",))[0],
                        self.last_tls_failure)
            writer.transport.abort()
            return
        await self._accept(reader, writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        previous, previous_task = self.connection, self._current
        if previous is not None:
            previous.close("replaced by a new connection")
            if previous_task is not None:
                await asyncio.gather(previous_task, return_exceptions=True)
        connection = V2gtpConnection(writer.get_extra_info("peername"), _writer=writer,
                                     tls=describe_tls(writer.get_extra_info("ssl_object")))
        self.connection, self._current = connection, asyncio.current_task()
        reason = "peer closed"
        try:
            handler = self.handler_factory(connection)
            self._notify(self.on_open, connection)
            reason = await self._serve(connection, handler, reader, writer)
        except Exception:  # a broken session must close cleanly, never take the server down
            log.exception("V2GTP: session handler failed")
            reason = "handler error"
        finally:
            connection.close(reason)
            try:  # bounded: a TLS close waits for the car's close_notify, which a gone car never sends
                await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT_S)
            except asyncio.TimeoutError:
                writer.transport.abort()
            except (ConnectionError, OSError):
                pass
            if self.connection is connection:
                self.connection, self._current = None, None
            self._notify(self.on_close, connection, connection.close_reason)

    async def _serve(self, connection: V2gtpConnection, handler: MessageHandler, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> str:
        while not connection.closed:
            try:
                head = await asyncio.wait_for(reader.readexactly(v2gtp.HEADER_LENGTH), self.idle_timeout_s)
                header = v2gtp.parse_header(head, self.max_payload_length)
                if header.payload_type != v2gtp.PAYLOAD_EXI:
                    raise v2gtp.V2gtpError(f"payload type {header.payload_type:#06x} is not EXI (0x8001)")
                payload = await asyncio.wait_for(reader.readexactly(header.payload_length), self.idle_timeout_s)
            except asyncio.IncompleteReadError as exc:
                return "peer closed" if not exc.partial else "peer closed in the middle of a frame"
            except asyncio.TimeoutError:
                return f"no request for {self.idle_timeout_s} s"
            except v2gtp.V2gtpError as exc:
                log.warning("V2GTP: closing %s: %s", connection.peer[0], exc)
                return f"bad frame: {exc}"
            except (ConnectionError, OSError) as exc:
                return f"connection lost: {exc}"
            received_t = time.monotonic()
            answer = await handler.on_message(payload)
            if connection.closed:
                break
            answered_t = None
            if answer is not None:
                writer.write(v2gtp.build_frame(v2gtp.PAYLOAD_EXI, answer))
                try:
                    await writer.drain()
                except (ConnectionError, OSError) as exc:
                    return f"connection lost: {exc}"
                answered_t = time.monotonic()
            exchange = Exchange(received_t, answered_t, len(payload), len(answer or b""))
            connection.exchanges.append(exchange)
            self._notify(self.on_exchange, connection, exchange)
        return connection.close_reason or "closed"

    @staticmethod
    def _notify(callback, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # observers must not break the session
            log.exception("V2GTP: callback failed")
