"""The one loopback-only namespace helper (hil.link.netns.private_netns) and the tests' skip adapter."""
from __future__ import annotations

import os
import subprocess

import pytest

from hil.link import netns
from hil.link.netns import NETNS_DIR, NetnsSetupFailed, NetnsUnavailable
from tests.rig import netns as test_netns


def _needs_namespaces() -> None:
    if os.geteuid() != 0:
        pytest.skip("making a network namespace needs root")


def _run(prefix: list[str], *cmd: str) -> str:
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=10, check=True).stdout


def test_only_loopback_is_up_inside_with_the_multicast_route_and_the_namespace_goes_on_exit():
    _needs_namespaces()
    with netns.private_netns() as prefix:
        name = prefix[-1]
        assert prefix[:3] == ["ip", "netns", "exec"] and os.path.exists(os.path.join(NETNS_DIR, name))
        links = _run(prefix, "ip", "-o", "link", "show").splitlines()
        assert len(links) == 1 and ": lo:" in links[0] and "UP" in links[0]
        assert "224.0.0.0/4 dev lo" in _run(prefix, "ip", "route", "show")
    assert not os.path.exists(os.path.join(NETNS_DIR, name))


def test_the_namespace_goes_when_the_body_raises():
    _needs_namespaces()
    with pytest.raises(ZeroDivisionError):
        with netns.private_netns() as prefix:
            name = prefix[-1]
            1 / 0
    assert not os.path.exists(os.path.join(NETNS_DIR, name))


def test_without_root_it_says_why_instead_of_failing_half_way(monkeypatch):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(NetnsUnavailable, match="needs root"):
        with netns.private_netns():
            pass


def test_a_set_up_failure_is_its_own_error_and_deletes_the_namespace(monkeypatch):
    calls: list[tuple[str, ...]] = []

    def fake_ip(*args: str) -> subprocess.CompletedProcess:
        calls.append(args)
        failed = args[:2] == ("netns", "exec") and "route" in args
        return subprocess.CompletedProcess(args, 2 if failed else 0, "", "RTNETLINK answers: no" if failed else "")
    monkeypatch.setattr(netns.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netns.shutil, "which", lambda _: "/sbin/ip")
    monkeypatch.setattr(netns, "_ip", fake_ip)
    with pytest.raises(NetnsSetupFailed, match="route add 224.0.0.0/4"):
        with netns.private_netns():
            pytest.fail("the body must not run in a namespace that is not set up")
    assert calls[0][:2] == ("netns", "add") and calls[-1] == ("netns", "del", calls[0][2])


def test_the_adapter_skips_a_machine_without_namespaces_but_fails_a_broken_set_up(monkeypatch):
    def unavailable():
        raise NetnsUnavailable("creating a network namespace needs root")
        yield  # pragma: no cover  (a generator, like the real one)

    def broken():
        raise NetnsSetupFailed("ip link set lo up in namespace chg-x failed")
        yield  # pragma: no cover

    from contextlib import contextmanager
    monkeypatch.setattr(netns, "private_netns", contextmanager(unavailable))
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        with test_netns.private_netns():
            pass
    monkeypatch.setattr(netns, "private_netns", contextmanager(broken))
    with pytest.raises(NetnsSetupFailed):
        with test_netns.private_netns():
            pass


def test_the_adapter_never_turns_an_error_in_the_test_body_into_a_skip():
    _needs_namespaces()
    with pytest.raises(NetnsUnavailable, match="from the body"):
        with test_netns.private_netns():
            raise NetnsUnavailable("from the body")
