"""Bench workers inside a private network namespace (loopback only) for udp_multicast CAN between processes.

On the host namespace the multicast would leave through the network card, so the workers refuse to use it
anywhere but in a namespace whose only interface is loopback (`require_loopback_only`). The namespace itself
comes from the rig (`hil.link.netns.private_netns`).
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from hil.link.netns import NetnsUnavailable, private_netns

ROOT = Path(__file__).resolve().parents[2]
MULTICAST_CAN = "udp_multicast:239.74.163.8"

__all__ = ["MULTICAST_CAN", "NetnsUnavailable", "ROOT", "WorkerFailed", "multicast_can", "require_loopback_only",
           "run_worker"]


class WorkerFailed(RuntimeError):
    pass


def multicast_can(parser: argparse.ArgumentParser, text: str, why: str) -> tuple[str, str]:
    """A worker's --can value as (interface, channel); anything but udp_multicast:GROUP is a usage error."""
    interface, _, channel = text.partition(":")
    if interface != "udp_multicast" or not channel:
        parser.error(f"--can must be udp_multicast:GROUP ({why})")
    return interface, channel


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
