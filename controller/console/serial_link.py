"""The console's byte pipe to a serial port, read and written without ever blocking the event loop.

`open_link(port, baudrate)` (blocking: call it in a thread) opens
- a device path or a pyserial URL (`socket://`, `rfc2217://`...) with pyserial: ports with a file
  descriptor are served by the loop itself (add_reader / add_writer, non-blocking reads and writes);
  the others by a reader and a writer thread that hand bytes to and from the loop;
- `pty:PATH`: a new pseudo-terminal whose other end is linked at PATH (for the rig and for tests: a
  terminal program or charger-console opens PATH like a serial device).
A link reports a vanished port (EOF, EIO, a closed socket, a pyserial error) once through `on_lost`.
Output waits in an OutputBuffer (capped) and goes out in chunks of WRITE_CHUNK.
"""
from __future__ import annotations

import asyncio
import io
import os
import queue
import threading
import tty
from pathlib import Path
from typing import Any, Callable

import serial

from controller.console.flow_limits import OutputBuffer

READ_CHUNK = 256  # a chunk of noise costs the loop about 0.2 ms in the line editor
WRITE_CHUNK = 1024
OUTPUT_LIMIT = 128 * 1024
THREAD_READ_TIMEOUT_S = 0.1
PTY_PREFIX = "pty:"

BytesSink = Callable[[bytes], None]
LostSink = Callable[[str], None]


class SerialLink:
    """Common part: the capped output buffer and the one-time loss report."""

    def __init__(self, name: str):
        self.name = name
        self.output = OutputBuffer(OUTPUT_LIMIT)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_bytes: BytesSink = lambda data: None
        self._on_lost: LostSink = lambda reason: None
        self.lost_reason: str | None = None

    def start(self, loop: asyncio.AbstractEventLoop, on_bytes: BytesSink, on_lost: LostSink) -> None:
        self._loop, self._on_bytes, self._on_lost = loop, on_bytes, on_lost

    def send(self, data: bytes) -> None:
        if self.lost_reason is None and self.output.add(data):
            self._flush()

    def _flush(self) -> None:
        raise NotImplementedError

    def _lost(self, reason: str) -> None:
        if self.lost_reason is None:
            self.lost_reason = reason
            self._on_lost(reason)

    async def close(self) -> None:
        """Stop serving and close the port; the blocking part runs in a thread when it can."""
        self.lost_reason = self.lost_reason or "closed"
        self._stop_serving()
        try:
            await asyncio.to_thread(self.release)  # pyserial's socket close sleeps 0.3 s
        except RuntimeError:  # the loop is shutting down and has no executor left
            self.release()

    def _stop_serving(self) -> None:
        """The event-loop side of closing."""

    def release(self) -> None:
        """Close the port itself (blocking); safe on a link that was never started."""
        raise NotImplementedError


class FdLink(SerialLink):
    """A port with a file descriptor, served from the event loop with non-blocking reads and writes."""

    def __init__(self, name: str, fd: int, closer: Callable[[], None]):
        super().__init__(name)
        self.fd = fd
        self._closer = closer
        self._writer_on = False
        os.set_blocking(fd, False)

    def start(self, loop: asyncio.AbstractEventLoop, on_bytes: BytesSink, on_lost: LostSink) -> None:
        super().start(loop, on_bytes, on_lost)
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            self._stop_io()
            self._lost(f"read failed: {exc.strerror or exc}")
            return
        if not data:
            self._stop_io()
            self._lost("end of file (port closed or device gone)")
            return
        self._on_bytes(data)

    def _flush(self) -> None:
        """Write one chunk now; the rest when the port is writable again."""
        if not len(self.output) or self.lost_reason is not None:
            return
        try:
            written = os.write(self.fd, self.output.peek(WRITE_CHUNK))
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._stop_io()
            self._lost(f"write failed: {exc.strerror or exc}")
            return
        self.output.consume(written)
        want_writer = len(self.output) > 0
        if want_writer != self._writer_on and self._loop is not None:
            if want_writer:
                self._loop.add_writer(self.fd, self._flush)
            else:
                self._loop.remove_writer(self.fd)
            self._writer_on = want_writer

    def _stop_io(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.fd)
            self._loop.remove_writer(self.fd)
        self._writer_on = False

    def _stop_serving(self) -> None:
        self._stop_io()

    def release(self) -> None:
        self._closer()


class ThreadLink(SerialLink):
    """A pyserial port without a file descriptor (rfc2217://, loop://): a reader and a writer thread."""

    def __init__(self, name: str, port: serial.SerialBase):
        super().__init__(name)
        self.port = port
        port.timeout = THREAD_READ_TIMEOUT_S
        port.write_timeout = None
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._read_loop, name=f"console-read {name}", daemon=True),
                         threading.Thread(target=self._write_loop, name=f"console-write {name}", daemon=True)]

    def start(self, loop: asyncio.AbstractEventLoop, on_bytes: BytesSink, on_lost: LostSink) -> None:
        super().start(loop, on_bytes, on_lost)
        for thread in self._threads:
            thread.start()

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self.port.read(READ_CHUNK)
            except Exception as exc:  # pyserial raises several kinds when a port goes away
                self._from_thread(self._lost, f"read failed: {exc}")
                return
            if data:
                self._from_thread(self._on_bytes, data)

    def _write_loop(self) -> None:
        while True:
            chunk = self._chunks.get()
            if chunk is None or self._stopping.is_set():
                return
            try:
                self.port.write(chunk)
            except Exception as exc:
                self._from_thread(self._lost, f"write failed: {exc}")
                return
            self._from_thread(self._flush)

    def _from_thread(self, function: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._stopping.is_set():
            try:
                self._loop.call_soon_threadsafe(function, *args)
            except RuntimeError:  # the loop is closed: nobody listens any more
                pass

    def _flush(self) -> None:
        """Hand chunks to the writer thread while its small queue has room."""
        while len(self.output) and not self._chunks.full() and self.lost_reason is None:
            chunk = self.output.peek(WRITE_CHUNK)
            self._chunks.put_nowait(chunk)
            self.output.consume(len(chunk))

    def _stop_serving(self) -> None:
        self._stopping.set()
        try:
            self._chunks.put_nowait(None)
        except queue.Full:
            pass  # the writer sees _stopping after its current chunk

    def release(self) -> None:
        self._stop_serving()
        self.port.close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=2.0)


class PtyLink(FdLink):
    """The master side of a new pseudo-terminal; its slave is linked at `link_path` for a terminal program."""

    def __init__(self, link_path: str):
        path = Path(link_path)
        if path.exists() and not path.is_symlink():
            raise FileExistsError(f"{link_path} exists and is not a symbolic link; not replacing it")
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing by the kernel: the console does its own
        self.slave_fd = slave
        self.slave_path = os.ttyname(slave)
        self.link_path = path
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.unlink(missing_ok=True)
            os.symlink(self.slave_path, temporary)
            os.replace(temporary, path)
        except OSError:
            os.close(master)
            os.close(slave)
            raise
        # the slave stays open here: the master then never sees EOF when a terminal closes its side
        super().__init__(f"pty {link_path} -> {self.slave_path}", master, self._close_fds)

    def _close_fds(self) -> None:
        try:
            if os.readlink(self.link_path) == self.slave_path:
                self.link_path.unlink()
        except OSError:
            pass  # already gone or replaced by someone else: leave it
        os.close(self.fd)
        os.close(self.slave_fd)


def open_link(port: str, baudrate: int) -> SerialLink:
    """Open the console's port (blocking: run in a thread). Raises OSError or serial.SerialException."""
    if port.startswith(PTY_PREFIX):
        return PtyLink(port[len(PTY_PREFIX):])
    device = serial.serial_for_url(port, baudrate=baudrate, timeout=0, write_timeout=0)
    try:
        fd = device.fileno()
    except (AttributeError, io.UnsupportedOperation, serial.SerialException):
        return ThreadLink(port, device)
    return FdLink(port, fd, device.close)
