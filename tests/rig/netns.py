"""A private network namespace with only loopback, for udp_multicast CAN between processes.

On the host namespace the multicast would leave through the network card: never run it there.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import contextmanager

import pytest


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)


@contextmanager
def private_netns():
    if os.geteuid() != 0:
        pytest.skip("separate-process tier skipped: creating a network namespace needs root")
    name = f"chg-{uuid.uuid4().hex[:8]}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"separate-process tier skipped: ip netns add failed: {made.stderr.strip()}")
    try:
        for args in (("link", "set", "lo", "up"), ("route", "add", "224.0.0.0/4", "dev", "lo")):
            done = _ip("netns", "exec", name, "ip", *args)
            assert done.returncode == 0, done.stderr
        yield ["ip", "netns", "exec", name]
    finally:
        _ip("netns", "del", name)
