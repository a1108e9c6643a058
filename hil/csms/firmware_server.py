"""The rig's firmware server: one file over HTTP on loopback, as a CSMS's download location would serve it.

It honours Range (206 with Content-Range; 416 past the end) so a station can resume, and can fail its first
requests on purpose: "status" answers 503, "cut" sends half of what was asked for and drops the connection.
Every request is recorded (the Range asked for, the answer) for the scenario's checks. It runs in a thread of
its own, so a station in the rig's event loop downloading from it blocks nothing.
"""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAILURES = ("status", "cut")


class FirmwareServer:
    def __init__(self, data: bytes, name: str = "firmware.bundle", failures: tuple[str, ...] = ()):
        for failure in failures:
            if failure not in FAILURES:
                raise ValueError(f"a failure is one of {', '.join(FAILURES)} (got {failure!r})")
        self.data = data
        self.name = name
        self.failures = list(failures)  # the next requests' failures, in order
        self.requests: list[dict] = []  # {"range": header or None, "status": int, "sent": bytes sent}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.name}"

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server._answer(self)

            def log_message(self, *args):  # the rig's report has every request
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="firmware-server", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _note(self, asked: str | None, status: int, sent: int) -> None:
        with self._lock:
            self.requests.append({"range": asked, "status": status, "sent": sent})

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        asked = handler.headers.get("Range")
        if handler.path.lstrip("/") != self.name:
            self._reply(handler, asked, 404, b"", {})
            return
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure == "status":
            self._reply(handler, asked, 503, b"", {"Retry-After": "1"})
            return
        total, start = len(self.data), 0
        match = re.fullmatch(r"bytes=(\d+)-", asked or "")
        if match:
            start = int(match.group(1))
            if start >= total:
                self._reply(handler, asked, 416, b"", {"Content-Range": f"bytes */{total}"})
                return
        body = self.data[start:]
        headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes"}
        status = 200
        if match:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{total - 1}/{total}"
        if failure == "cut":  # the length promised, half of it sent, the connection gone
            body = body[: len(body) // 2]
            handler.close_connection = True
        self._reply(handler, asked, status, body, headers)

    def _reply(self, handler: BaseHTTPRequestHandler, asked: str | None, status: int, body: bytes,
               headers: dict) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if "Content-Length" not in headers:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            pass
        self._note(asked, status, len(body))


def serve_file(path: Path, failures: tuple[str, ...] = ()) -> FirmwareServer:
    return FirmwareServer(path.read_bytes(), path.name, failures)
