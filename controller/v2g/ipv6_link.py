"""IPv6 on the PLC interface: interface index and the interface's link-local address.

Both answer for the network namespace of the calling thread, so they work on a thread that entered
another namespace (the rig's veth mode) as well as in a plain process.
"""
from __future__ import annotations

import ipaddress
import socket
import time

ALL_NODES = "ff02::1"
_DISCARD_PORT = 9


def interface_index(ifname: str) -> int:
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        raise OSError(f"no network interface named {ifname!r}") from None


def link_local_address(ifname: str, wait_s: float = 2.0) -> str:
    """The interface's usable link-local address (no %scope), waiting up to `wait_s` for one to appear.

    Asks the kernel which source address it would use towards ff02::1 on that interface: that is the
    link-local address once duplicate address detection has finished. Blocks while waiting: call it at
    start-up or on a worker thread.
    """
    index = interface_index(ifname)
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((ALL_NODES, _DISCARD_PORT, 0, index))
                address = probe.getsockname()[0].split("%")[0]
            except OSError:
                address = "::"
        if ipaddress.IPv6Address(address).is_link_local:
            return address
        if time.monotonic() >= deadline:
            raise OSError(f"interface {ifname!r} has no usable IPv6 link-local address after {wait_s} s "
                          "(is it up? is duplicate address detection still running?)")
        time.sleep(0.02)


def socket_address(host: str, port: int, ifindex: int = 0) -> tuple[str, int, int, int]:
    """A sockaddr for AF_INET6: the scope id only for link-local and link-scope multicast addresses."""
    address = ipaddress.IPv6Address(host.split("%")[0])
    scoped = address.is_link_local or (address.is_multicast and (address.packed[1] & 0x0F) == 2)
    return str(address), port, 0, ifindex if scoped else 0
