"""Bench workers inside a private network namespace (loopback only) for udp_multicast CAN between processes.

On the host namespace the multicast would leave through the network card, so the workers refuse to use it
anywhere but in a namespace whose only interface is loopback (`require_loopback_only`).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MULTICAST_CAN = "udp_multicast:239.74.163.8"


class NetnsUnavailable(RuntimeError):
    """No private namespace here (not root, no `ip`, or the kernel refused); the reason is the message."""


class WorkerFailed(RuntimeError):
    pass


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)


@contextmanager
def private_netns() -> Iterator[list[str]]:
    """Yield the argv prefix that runs a command in a fresh namespace with loopback and a multicast route."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("creating a network namespace needs root")
    if shutil.which("ip") is None:
        raise NetnsUnavailable("the `ip` tool (iproute2) is missing")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        raise NetnsUnavailable(f"ip netns add failed: {made.stderr.strip()}")
    try:
        for args in (("link", "set", "lo", "up"), ("route", "add", "224.0.0.0/4", "dev", "lo")):
            done = _ip("netns", "exec", name, "ip", *args)
            if done.returncode != 0:
                raise NetnsUnavailable(f"ip {' '.join(args)} in the namespace failed: {done.stderr.strip()}")
        yield ["ip", "netns", "exec", name]
    finally:
        _ip("netns", "del", name)


def require_loopback_only() -> None:
    """Refuse to run multicast CAN unless this process sits in a namespace with nothing but loopback."""
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        raise SystemExit(f"refusing udp_multicast: this network namespace has interfaces {names}; "
                         "run the worker through tools.bench (it makes a private namespace)")


def run_worker(module: str, args: list[str], timeout_s: float) -> dict[str, Any]:
    """Run `python -m module args` in a private namespace; its last stdout line is the JSON result."""
    with private_netns() as prefix:
        try:
            done = subprocess.run([*prefix, sys.executable, "-m", module, *args], capture_output=True, text=True,
                                  cwd=ROOT, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise WorkerFailed(f"{module} did not finish within {timeout_s:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise WorkerFailed(f"{module} exited with {done.returncode}: {tail}")
    return json.loads(lines[-1])
