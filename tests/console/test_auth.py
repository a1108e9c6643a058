"""Roles, PINs, lockout and the idle logout, with a settable clock."""
from __future__ import annotations

import pytest

from controller.formats.cabinet.config import ConsoleConfig
from controller.console.auth import IDLE_LOGOUT_S, ConsoleAuth
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(10)


def make(**options) -> tuple[ConsoleAuth, FakeClock]:
    clock = FakeClock(1000.0)
    cfg = ConsoleConfig(**{"port": "pty:/x", "viewer_pin": "1111", "technician_pin": "2222", **options})
    return ConsoleAuth(cfg, clock), clock


def test_without_a_viewer_pin_everyone_may_read():
    auth, _ = make(viewer_pin="")
    assert auth.role == "viewer" and auth.allows("viewer") and not auth.allows("technician")


def test_with_a_viewer_pin_the_console_starts_logged_out():
    auth, _ = make()
    assert auth.role == "none" and not auth.allows("viewer")
    assert auth.login("1111").role == "viewer"
    assert auth.login("2222").role == "technician"
    auth.logout()
    assert auth.role == "none"


def test_no_technician_pin_means_no_technician_role():
    auth, _ = make(technician_pin="")
    result = auth.login("")
    assert not result.ok and auth.role == "none"


def test_lockout_after_repeated_failures_refuses_even_the_right_pin():
    auth, clock = make(max_failed_logins=3, lockout_s=60.0)
    assert [auth.login("9").failures for _ in range(2)] == [1, 2]
    third = auth.login("9")
    assert not third.ok and third.locked_for_s == 60.0 and "locked" in third.reason
    clock.now += 30.0
    refused = auth.login("2222")
    assert not refused.ok and refused.locked_for_s == pytest.approx(30.0) and auth.role == "none"
    clock.now += 31.0
    assert auth.login("2222").ok and auth.role == "technician"


def test_a_good_login_resets_the_failure_count():
    auth, _ = make(max_failed_logins=3)
    auth.login("9")
    auth.login("9")
    assert auth.login("1111").ok
    assert auth.login("9").failures == 1


def test_a_role_above_the_default_drops_after_idling():
    auth, clock = make(viewer_pin="")
    auth.login("2222")
    clock.now += IDLE_LOGOUT_S - 1
    assert auth.touch() is False and auth.role == "technician"
    clock.now += IDLE_LOGOUT_S + 1
    assert auth.touch() is True and auth.role == "viewer"
