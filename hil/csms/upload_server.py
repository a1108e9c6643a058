"""The rig's log upload server: a loopback HTTP server that takes what a station PUTs or POSTs (GetLog's
remoteLocation) and saves it in a folder, as a CSMS's file store would.

It can play a difficult server: refuse the first N uploads (500), answer every one with a given status
(403: PermissionDenied at the station), or take POST only (405 to PUT).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

MAX_BYTES = 64 * 1024 * 1024  # larger uploads are refused (413)


@dataclass(frozen=True)
class Upload:
    method: str
    path: str
    size: int
    saved: Path | None  # None: refused
    authorization: str = ""  # the Authorization header as it came


class UploadServer:
    def __init__(self, folder: Path, *, fail_first: int = 0, status: int | None = None, post_only: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fail_first = fail_first
        self.status = status
        self.post_only = post_only
        self.uploads: list[Upload] = []
        self._guard = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen on a free loopback port; the base URL (ends with "/", so the station appends its file name)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="rig-upload-server", daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/logs/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def saved(self) -> list[Path]:
        with self._guard:
            return [u.saved for u in self.uploads if u.saved is not None]

    def _take(self, method: str, path: str, body: bytes, authorization: str = "") -> int:
        """The status to answer; saves the body when it is taken."""
        with self._guard:
            refused = None
            if self.post_only and method == "PUT":
                refused = 405
            elif self.fail_first > 0:
                self.fail_first -= 1
                refused = 500
            elif self.status is not None:
                refused = self.status
            saved = None
            if refused is None or 200 <= refused < 300:
                name = Path(unquote(urlsplit(path).path)).name or "upload.bin"
                saved = self.folder / f"{len(self.uploads):03d}-{name}"
                saved.write_bytes(body)
            self.uploads.append(Upload(method, path, len(body), saved, authorization))
            return refused if refused is not None else 201


def _handler(server: UploadServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _receive(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BYTES:
                self.send_error(413)
                return
            body = self.rfile.read(length)
            code = server._take(self.command, self.path, body, self.headers.get("Authorization", ""))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST = _receive

        def log_message(self, format: str, *args) -> None:  # quiet: the uploads list is the record
            pass
    return Handler
