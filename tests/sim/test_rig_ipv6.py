"""The rig's IPv6 helpers (hil/wires/ipv6.py)."""
from __future__ import annotations

import pytest

from hil.wires.ipv6 import interface_index, link_local_address, socket_address

pytestmark = pytest.mark.timeout(10)


def test_the_scope_is_kept_only_for_link_scope_addresses():
    assert socket_address("fe80::1%plc0", 15118, 7) == ("fe80::1", 15118, 0, 7)
    assert socket_address("ff02::1", 15118, 7) == ("ff02::1", 15118, 0, 7)
    assert socket_address("ff05::1", 15118, 7) == ("ff05::1", 15118, 0, 0)
    assert socket_address("::1", 61000, 7) == ("::1", 61000, 0, 0)


def test_a_missing_interface_is_named():
    with pytest.raises(OSError, match="no network interface named 'nosuch0'"):
        interface_index("nosuch0")
    with pytest.raises(OSError, match="nosuch0"):
        link_local_address("nosuch0", wait_s=0.0)


def test_loopback_never_gets_a_link_local_address():
    with pytest.raises(OSError, match="no usable IPv6 link-local address after 0.05 s"):
        link_local_address("lo", wait_s=0.05)
