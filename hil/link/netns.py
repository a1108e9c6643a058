"""Network namespaces for the veth link mode: two namespaces joined by veth pairs standing in for the PLC,
one pair per connector.

The SECC ends live in one namespace, the cars in the other, interfaces named `plc0`, `plc1`... Sockets keep
the namespace they were created in, so one process can hold both ends: `run_in_netns` creates sockets on a
short-lived thread that has entered the namespace (setns), and the event loop uses them afterwards. A
controller started as a separate process runs under `ip netns exec`, or shares the rig's own namespace
(`secc_here`: the SECC ends are made there, so it keeps the rig's CAN).

Lifetime: `VethPair` removes its namespaces on exit (and at interpreter exit). A guardian process, in its
own session, holds the read end of a pipe only we write to: when we die, even by SIGKILL, it reads EOF and
deletes the namespaces. Names also carry the creating process id, and `remove_stale` (run before every
creation) deletes the pairs of dead processes the guardian could not clean up.

`private_netns` is the other kind: one namespace with nothing but loopback (and a multicast route on it), for
udp_multicast CAN between processes (rig and controller, bench workers), which on the host's namespace would
leave through the network card.
"""
from __future__ import annotations

import asyncio
import atexit
import ctypes
import os
import re
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable, TypeVar

from hil.wires.ipv6 import link_local_address

T = TypeVar("T")

NETNS_DIR = "/var/run/netns"
PLC_INTERFACE = "plc0"
_CLONE_NEWNET = 0x40000000
_NAME = re.compile(r"^v2g-(\d+)-[0-9a-f]{6}-(secc|ev)$")
_IP_TIMEOUT_S = 10.0
# arguments: namespaces, "--", interfaces made in the rig's own namespace
_GUARDIAN = ('read _; links=0; for arg in "$@"; do if [ "$arg" = -- ]; then links=1; '
             'elif [ $links = 1 ]; then ip link del "$arg" 2>/dev/null; else ip netns del "$arg" 2>/dev/null; fi; done')


class NetnsUnavailable(RuntimeError):
    """This machine or user cannot make network namespaces; the message says why."""


class NetnsSetupFailed(NetnsUnavailable):
    """A namespace was made but could not be set up (loopback, route): not a missing privilege."""


def _setns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into network namespace {name!r}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def _on_thread_in(name: str, fn: Callable[[], T], done: Callable[[T | None, BaseException | None], None]) -> None:
    def body() -> None:
        try:
            _setns(name)  # only this thread moves; it ends right after, taking the namespace with it
            result = fn()
        except BaseException as exc:  # handed to the caller, never lost on the thread
            done(None, exc)
        else:
            done(result, None)
    threading.Thread(target=body, name=f"netns-{name}", daemon=True).start()


def run_in_netns_blocking(name: str, fn: Callable[[], T]) -> T:
    """Call fn() inside namespace `name` and return its result (its exception is raised here)."""
    box: dict[str, object] = {}
    finished = threading.Event()

    def done(result, error) -> None:
        box["result"], box["error"] = result, error
        finished.set()
    _on_thread_in(name, fn, done)
    finished.wait()
    if box["error"] is not None:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


async def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Like run_in_netns_blocking without blocking the loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result, error) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def done(result, error) -> None:
        loop.call_soon_threadsafe(settle, result, error)
    _on_thread_in(name, fn, done)
    return await future


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=_IP_TIMEOUT_S)


def _check(done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode != 0:
        raise NetnsUnavailable(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete the namespaces of veth pairs whose creating process is gone; returns their names."""
    try:
        names = os.listdir(NETNS_DIR)
    except OSError:
        return []
    stale = [n for n in names if (m := _NAME.match(n)) and not _alive(int(m.group(1)))]
    for name in stale:
        _ip("netns", "del", name)
    return stale


def why_unavailable() -> str | None:
    """None when veth pairs can be made here, otherwise the reason."""
    if os.geteuid() != 0:
        return "the veth link mode needs root (network namespaces, raw sockets)"
    if shutil.which("ip") is None:
        return "the veth link mode needs the `ip` command (iproute2)"
    return None


class VethPair:
    """Namespaces `secc_ns` and `ev_ns` joined by `count` veth pairs (one per connector): interface
    `plc<i>` on both sides. IPv6 link-local addresses are usable when `create()` returns (no DAD).

    `secc_here`: the SECC ends stay in the calling process's namespace instead of a new one, named
    `secc_interfaces` (unique per pair). A controller run as a separate process then shares the rig's
    namespace, and with it the rig's CAN (a vcan interface or loopback multicast); `secc_ns` is None.
    """

    def __init__(self, count: int = 1, *, secc_here: bool = False) -> None:
        if count < 1:
            raise ValueError(f"a veth link needs at least one pair (got {count})")
        token = secrets.token_hex(3)
        stem = f"v2g-{os.getpid()}-{token}"
        self.secc_ns: str | None = None if secc_here else f"{stem}-secc"
        self.ev_ns = f"{stem}-ev"
        self.ev_interfaces = [f"plc{i}" for i in range(count)]
        # names in a shared namespace must not clash with another rig's: "v2g" + token + index (<= 15 chars)
        self.secc_interfaces = [f"v2g{token}s{i}" for i in range(count)] if secc_here else list(self.ev_interfaces)
        self.secc_addresses: list[str] = []  # link-local addresses of both ends, once created
        self.ev_addresses: list[str] = []
        self._made: list[str] = []
        self._here: list[str] = []  # interfaces made in our own namespace (not removed with a namespace)
        self._guardian: subprocess.Popen | None = None

    @property
    def secc_address(self) -> str:
        return self.secc_addresses[0] if self.secc_addresses else ""

    @property
    def ev_address(self) -> str:
        return self.ev_addresses[0] if self.ev_addresses else ""

    def create(self) -> VethPair:
        reason = why_unavailable()
        if reason:
            raise NetnsUnavailable(reason)
        remove_stale()
        atexit.register(self.remove)
        self._guardian = subprocess.Popen(
            ["sh", "-c", _GUARDIAN, "veth-guardian", *filter(None, (self.secc_ns, self.ev_ns)), "--",
             *(self.secc_interfaces if self.secc_ns is None else ())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            for ns in filter(None, (self.secc_ns, self.ev_ns)):
                _check(_ip("netns", "add", ns), f"ip netns add {ns}")
                self._made.append(ns)
            for secc_if, ev_if in zip(self.secc_interfaces, self.ev_interfaces):
                where = ("netns", self.secc_ns) if self.secc_ns else ()
                _check(_ip("link", "add", secc_if, *where, "type", "veth", "peer", "name", ev_if, "netns", self.ev_ns),
                       f"creating the veth pair {secc_if}/{ev_if}")
                if self.secc_ns is None:
                    self._here.append(secc_if)
            self._bring_up(self.ev_ns, self.ev_interfaces)
            self._bring_up(self.secc_ns, self.secc_interfaces)
            # Usable once both ends have their address (and with it the fe80::/64 route).
            # The kernel reports the carrier up to a second late (link watch), so allow for a few seconds.
            self.secc_addresses = [self._address(self.secc_ns, i) for i in self.secc_interfaces]
            self.ev_addresses = [self._address(self.ev_ns, i) for i in self.ev_interfaces]
        except BaseException:
            self.remove()
            raise
        return self

    @staticmethod
    def _bring_up(ns: str | None, interfaces: list[str]) -> None:
        inside = ["ip", "netns", "exec", ns] if ns else []
        target = ["-n", ns] if ns else []
        for interface in interfaces:
            # Link-local addresses are usable at once instead of after duplicate address detection.
            done = subprocess.run([*inside, "sysctl", "-qw", f"net.ipv6.conf.{interface}.accept_dad=0"],
                                  capture_output=True, text=True, timeout=_IP_TIMEOUT_S)
            _check(done, f"disabling DAD on {interface}")
        for link in (["lo"] if ns else []) + interfaces:
            _check(_ip(*target, "link", "set", link, "up"), f"bringing {link} up in {ns or 'this namespace'}")

    @staticmethod
    def _address(ns: str | None, interface: str) -> str:
        if ns is None:
            return link_local_address(interface, 5.0)
        return run_in_netns_blocking(ns, lambda: link_local_address(interface, 5.0))

    def remove(self) -> None:
        while self._here:  # deleting one end of a veth pair deletes its peer too
            _ip("link", "del", self._here.pop())
        while self._made:
            _ip("netns", "del", self._made.pop())  # deleting a namespace deletes its veth end, and the peer
        if self._guardian is not None:
            self._guardian.stdin.close()  # nothing left for it to delete; it ends
            self._guardian.wait(_IP_TIMEOUT_S)
            self._guardian = None
        atexit.unregister(self.remove)

    def __enter__(self) -> VethPair:
        return self.create()

    def __exit__(self, *exc) -> None:
        self.remove()


@contextmanager
def private_netns() -> Iterator[list[str]]:
    """A fresh namespace with loopback up and 224.0.0.0/4 routed to it; yields the argv prefix that runs a
    command inside (`ip netns exec NAME`). The namespace is deleted on exit."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("creating a network namespace needs root")
    if shutil.which("ip") is None:
        raise NetnsUnavailable("creating a network namespace needs the `ip` command (iproute2)")
    name = f"chg-{uuid.uuid4().hex[:8]}"
    _check(_ip("netns", "add", name), "ip netns add")
    try:
        for args in (("link", "set", "lo", "up"), ("route", "add", "224.0.0.0/4", "dev", "lo")):
            done = _ip("netns", "exec", name, "ip", *args)
            if done.returncode != 0:
                raise NetnsSetupFailed(f"ip {' '.join(args)} in namespace {name} failed: "
                                       f"{done.stderr.strip() or done.stdout.strip()}")
        yield ["ip", "netns", "exec", name]
    finally:
        _ip("netns", "del", name)
