"""Veth pairs whose SECC ends live in the rig's own namespace (a controller process that shares the rig's CAN):
one pair per connector, and nothing left behind when the rig dies, even by SIGKILL.

Runs inside a private namespace of its own, so the host's interfaces are never touched."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil.link.netns import NETNS_DIR, why_unavailable
from tests.rig.netns import private_netns

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]
# The car namespace is seen from the holder itself: it was made in the holder's mount namespace.
HOLD = ("from hil.link.netns import VethPair; import subprocess, time; p = VethPair(2, secc_here=True).create(); "
        "cars = subprocess.run(['ip', '-n', p.ev_ns, '-o', 'link', 'show'], capture_output=True, text=True).stdout; "
        "print(p.ev_ns, *p.secc_interfaces, *p.secc_addresses, flush=True); print(cars.replace(chr(10), ' '), "
        "flush=True); time.sleep(60)")


def _links(prefix: list[str]) -> str:
    return subprocess.run([*prefix, "ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout


def test_secc_ends_in_this_namespace_and_a_killed_rig_leaves_nothing():
    reason = why_unavailable()
    if reason:
        pytest.skip(f"veth link tests skipped: {reason}")
    with private_netns() as inside:
        holder = subprocess.Popen([*inside, sys.executable, "-c", HOLD], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            ev_ns, *rest = holder.stdout.readline().split()
            interfaces, addresses = rest[:2], rest[2:]
            assert len(set(interfaces)) == 2 and all(a.startswith("fe80::") for a in addresses)
            here = _links(inside)
            assert all(f" {name}@" in here for name in interfaces), here
            cars = holder.stdout.readline()
            assert " plc0@" in cars and " plc1@" in cars
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (os.path.exists(os.path.join(NETNS_DIR, ev_ns))
                                               or any(name in _links(inside) for name in interfaces)):
            time.sleep(0.05)
        assert not os.path.exists(os.path.join(NETNS_DIR, ev_ns))
        assert not any(name in _links(inside) for name in interfaces)
