"""Network namespaces for the veth link mode: two namespaces joined by a veth pair standing in for the PLC.

The SECC end lives in one namespace, the car in the other, both interfaces named `plc0`. Sockets keep the
namespace they were created in, so one process can hold both ends: `run_in_netns` creates sockets on a
short-lived thread that has entered the namespace (setns), and the event loop uses them afterwards. A
controller started as a separate process runs under `ip netns exec` instead.

Lifetime: `VethPair` removes its namespaces on exit (and at interpreter exit). A guardian process, in its
own session, holds the read end of a pipe only we write to: when we die, even by SIGKILL, it reads EOF and
deletes the namespaces. Names also carry the creating process id, and `remove_stale` (run before every
creation) deletes the pairs of dead processes the guardian could not clean up.
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
from typing import Callable, TypeVar

from controller.v2g.ipv6_link import link_local_address

T = TypeVar("T")

NETNS_DIR = "/var/run/netns"
PLC_INTERFACE = "plc0"
_CLONE_NEWNET = 0x40000000
_NAME = re.compile(r"^v2g-(\d+)-[0-9a-f]{6}-(secc|ev)$")
_IP_TIMEOUT_S = 10.0
_GUARDIAN = 'read _; for ns in "$@"; do ip netns del "$ns" 2>/dev/null; done'


class NetnsUnavailable(RuntimeError):
    """This machine or user cannot make network namespaces; the message says why."""


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
    """Namespaces `secc_ns` and `ev_ns`, each with an interface `plc0` (the two ends of one veth pair),
    IPv6 link-local addresses usable when `create()` returns (duplicate address detection off)."""

    interface = PLC_INTERFACE

    def __init__(self) -> None:
        stem = f"v2g-{os.getpid()}-{secrets.token_hex(3)}"
        self.secc_ns = f"{stem}-secc"
        self.ev_ns = f"{stem}-ev"
        self.secc_address = ""  # link-local addresses of the two ends, once created
        self.ev_address = ""
        self._made: list[str] = []
        self._guardian: subprocess.Popen | None = None

    def create(self) -> VethPair:
        reason = why_unavailable()
        if reason:
            raise NetnsUnavailable(reason)
        remove_stale()
        atexit.register(self.remove)
        self._guardian = subprocess.Popen(
            ["sh", "-c", _GUARDIAN, "veth-guardian", self.secc_ns, self.ev_ns], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            for ns in (self.secc_ns, self.ev_ns):
                _check(_ip("netns", "add", ns), f"ip netns add {ns}")
                self._made.append(ns)
            _check(_ip("link", "add", PLC_INTERFACE, "netns", self.secc_ns, "type", "veth",
                       "peer", "name", PLC_INTERFACE, "netns", self.ev_ns), "creating the veth pair")
            for ns in (self.secc_ns, self.ev_ns):
                # Link-local addresses are usable at once instead of after duplicate address detection.
                _check(_ip("netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{PLC_INTERFACE}.accept_dad=0"),
                       f"disabling DAD in {ns}")
                for link in ("lo", PLC_INTERFACE):
                    _check(_ip("-n", ns, "link", "set", link, "up"), f"bringing {link} up in {ns}")
            # Usable once both ends have their address (and with it the fe80::/64 route).
            # The kernel reports the carrier up to a second late (link watch), so allow for a few seconds.
            self.secc_address = run_in_netns_blocking(self.secc_ns, lambda: link_local_address(PLC_INTERFACE, 5.0))
            self.ev_address = run_in_netns_blocking(self.ev_ns, lambda: link_local_address(PLC_INTERFACE, 5.0))
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
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
