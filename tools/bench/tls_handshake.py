"""Figure tls_handshake_ms: how long the ISO 15118-2 TLS handshake takes between the rig's car and the SECC.

The SECC's own V2GTP server (controller/v2g) with its [v2g.tls] context runs in a thread with an event loop of
its own; the rig's car client (hil/ev: TLS 1.2, ECDHE-ECDSA-AES128-SHA256, secp256r1, the SECC chain checked
against the rig PKI's V2G root) connects over ::1, a full handshake each time (no session resumption, as a
new car would), and sends one V2GTP frame. Timed on the car's side, TCP connect to handshake done
(perf_counter). The certificates and keys come from the rig's test PKI (hil/pki), made before timing starts.
"""
from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tools.bench.stats import goal, summarize

# The car's request timeout (2 s) is the budget the first request has; the handshake should be a small part.
HANDSHAKE_GOAL_MS = 100.0  # p99


class _Echo:
    def __init__(self, connection):
        self.connection = connection

    async def on_message(self, payload: bytes) -> bytes:
        return payload


def _serve(context, ready: threading.Event, box: dict, stop: threading.Event) -> None:
    from controller.v2g.v2gtp_server import V2gtpServer, open_v2gtp_socket

    async def main() -> None:
        server = V2gtpServer(open_v2gtp_socket(None), _Echo, tls_sock=open_v2gtp_socket(None), tls_context=context)
        await server.start()
        box["port"] = server.tls_port
        box["server"] = server
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.02)
        await server.close()
    asyncio.run(main())


async def _handshakes(port: int, count: int, car_context) -> tuple[list[float], list[str]]:
    from hil.ev.v2gtp_client import V2gtpClient

    times, ciphers = [], set()
    for _ in range(count):
        started = time.perf_counter()
        client = await V2gtpClient.connect(("::1", port), tls=car_context)
        times.append((time.perf_counter() - started) * 1000.0)
        ciphers.add(client.tls)
        await client.request(b"\x80\x00")
        await client.close()
    return times, sorted(ciphers)


def run_tls_handshake(quick: bool) -> dict[str, Any]:
    from controller.v2g.secc_tls import secc_tls_context
    from hil.pki.rig_pki import rig_pki, write_secc_files
    from hil.rig_tls import car_context

    count = 5 if quick else 300
    pki = rig_pki()
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as directory:
        files = write_secc_files(Path(directory), pki.secc, pki.secc_chain())
        context = secc_tls_context(str(files.chain), str(files.key))
    ready, stop, box = threading.Event(), threading.Event(), {}
    thread = threading.Thread(target=_serve, args=(context, ready, box, stop), name="bench-secc", daemon=True)
    thread.start()
    try:
        if not ready.wait(10.0):
            return {"status": "error", "reason": "the SECC's TLS listener did not start"}
        times, ciphers = asyncio.run(_handshakes(box["port"], count, car_context()))
    finally:
        stop.set()
        thread.join(10.0)
    return {"status": "ok", "handshake_ms": summarize(times), "negotiated": ciphers,
            "failed_on_secc": box["server"].tls_failures,
            "method": __doc__.split("\n\n")[1].replace("\n", " ").strip()}


def goals(figure: dict[str, Any]) -> list[dict[str, Any]]:
    value = (figure.get("handshake_ms") or {}).get("p99") if figure.get("status") == "ok" else None
    return [goal("ISO 15118-2 TLS handshake p99 (car connect to handshake done)", value, HANDSHAKE_GOAL_MS, "ms",
                 note=figure.get("reason", ""))]


def describe(figure: dict[str, Any]) -> list[str]:
    n = figure.get("handshake_ms") or {}
    if not n.get("n"):
        return []
    return [f"  handshake n={n['n']}  p50 {n['p50']:.2f}  p99 {n['p99']:.2f}  max {n['max']:.2f} ms  "
            f"({', '.join(figure.get('negotiated', []))}; {figure.get('failed_on_secc', 0)} failed on the SECC)"]
