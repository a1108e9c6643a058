"""IPv6 on the car's link: interface index, the interface's link-local address, scoped socket addresses.

Each answers for the network namespace of the calling thread, so it works on a thread inside another
namespace (the veth link mode) as in a plain process.
"""
from __future__ import annotations

import ipaddress
import socket
import time

ALL_NODES = "ff02::1"
_PROBE_PORT = 9  # discard: the probe below only connects a UDP socket, it never sends
_POLL_S = 0.02


def interface_index(ifname: str) -> int:
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        raise OSError(f"no network interface named {ifname!r}") from None


def link_local_address(ifname: str, wait_s: float = 2.0) -> str:
    """The interface's link-local address without %scope, once usable (duplicate address detection done).

    The kernel's choice of source address towards ff02::1 on the interface is a link-local one only once the
    address is usable; until then this polls, at most `wait_s`. Blocking: start-up or a worker thread.
    """
    index = interface_index(ifname)
    give_up = time.monotonic() + wait_s
    while True:
        source = _source_towards_all_nodes(index)
        if source is not None and ipaddress.IPv6Address(source).is_link_local:
            return source
        if time.monotonic() >= give_up:
            raise OSError(f"{ifname!r} has no usable IPv6 link-local address after {wait_s} s "
                          "(interface down, or duplicate address detection not finished)")
        time.sleep(_POLL_S)


def _source_towards_all_nodes(index: int) -> str | None:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((ALL_NODES, _PROBE_PORT, 0, index))
        except OSError:
            return None
        return probe.getsockname()[0].partition("%")[0]


def socket_address(host: str, port: int, ifindex: int = 0) -> tuple[str, int, int, int]:
    """An AF_INET6 address tuple; the scope id is kept only where it means something (link-local unicast,
    link-scope multicast)."""
    address = ipaddress.IPv6Address(host.partition("%")[0])
    link_scope = address.is_link_local or (address.is_multicast and address.packed[1] & 0x0F == 2)
    return str(address), port, 0, ifindex if link_scope else 0
