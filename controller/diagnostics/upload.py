"""Uploading a diagnostics archive over HTTP(S): PUT, or POST where the server refuses PUT (405).

Stdlib only (http.client): one request per attempt, a bounded time-out, the credentials a URL may carry
(http://user:password@host/...) sent as basic auth. Blocking: run it in a worker thread.
"""
from __future__ import annotations

import base64
import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

TIMEOUT_S = 60.0
SCHEMES = ("http", "https")


@dataclass(frozen=True)
class UploadResult:
    ok: bool
    status: int | None  # the HTTP status; None when no answer came (refused, time-out, TLS)
    detail: str


def target_url(remote_location: str, file_name: str) -> str:
    """A location ending in "/" is a folder: the archive's name is appended."""
    return remote_location + quote(file_name) if remote_location.endswith("/") else remote_location


def upload(url: str, body: bytes, timeout_s: float = TIMEOUT_S, ssl_context: ssl.SSLContext | None = None) -> UploadResult:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        return UploadResult(False, None, f"not an HTTP(S) URL: {url[:100]}")
    headers = {"Content-Type": "application/gzip", "Content-Length": str(len(body))}
    if parts.username is not None:
        login = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(login).decode()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    result = UploadResult(False, None, "not sent")
    for method in ("PUT", "POST"):
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout_s, context=ssl_context or ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        try:
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read(65536)
            result = UploadResult(200 <= answer.status < 300, answer.status, f"{method} {answer.status} {answer.reason}")
        except (OSError, http.client.HTTPException) as exc:  # refused, unreachable, time-out, TLS
            return UploadResult(False, None, f"{method}: {exc!r}"[:200])
        finally:
            conn.close()
        if result.status != 405:  # 405 Method Not Allowed: this server takes POST
            return result
    return result
