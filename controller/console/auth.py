"""Who is at the console: roles, PIN login and lockout after repeated failures.

Roles are ordered: "none" < "viewer" < "technician". Without a viewer PIN everyone starts as viewer
(reading needs no login); with one, the console starts logged out. Without a technician PIN the
technician role cannot be reached at all: a cabinet is never left open by a missing setting.
A PIN that matches both roles gives the technician role.

After `max_failed_logins` wrong PINs in a row every login is refused for `lockout_s`, even with the
right PIN. A role above the default drops back after IDLE_LOGOUT_S without a command line, and on a
new connection (a re-plugged cable may be somebody else).
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Callable, Literal

from controller.formats.cabinet.config import ConsoleConfig

Role = Literal["none", "viewer", "technician"]
ROLE_RANK: dict[str, int] = {"none": 0, "viewer": 1, "technician": 2}
IDLE_LOGOUT_S = 900.0


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    role: Role
    reason: str = ""
    failures: int = 0  # wrong PINs in a row so far
    locked_for_s: float = 0.0


class ConsoleAuth:
    def __init__(self, cfg: ConsoleConfig, clock: Callable[[], float] = time.monotonic):
        self.cfg = cfg
        self.clock = clock
        self.default_role: Role = "none" if cfg.viewer_pin else "viewer"
        self.role: Role = self.default_role
        self.failures = 0
        self.locked_until = 0.0
        self._last_activity = clock()

    def allows(self, needed: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[needed]

    def login(self, pin: str) -> LoginResult:
        now = self.clock()
        if now < self.locked_until:
            return LoginResult(False, self.role, "too many wrong PINs; login locked",
                               self.failures, self.locked_until - now)
        role = self._role_for(pin)
        if role is None:
            self.failures += 1
            limit = max(1, self.cfg.max_failed_logins)
            if self.failures >= limit:
                self.locked_until = now + self.cfg.lockout_s
                failures, self.failures = self.failures, 0
                return LoginResult(False, self.role, f"wrong PIN; {failures} in a row, login locked",
                                   failures, self.cfg.lockout_s)
            return LoginResult(False, self.role, f"wrong PIN ({self.failures} of {limit} before lockout)",
                               self.failures)
        self.failures = 0
        self.role = role
        self._last_activity = now
        return LoginResult(True, role)

    def logout(self) -> None:
        self.role = self.default_role

    def touch(self) -> bool:
        """Note a command line; True if the role had already timed out (and was dropped)."""
        now = self.clock()
        idle = now - self._last_activity
        self._last_activity = now
        if self.role != self.default_role and idle > IDLE_LOGOUT_S:
            self.logout()
            return True
        return False

    def _role_for(self, pin: str) -> Role | None:
        given = pin.encode()
        for role, expected in (("technician", self.cfg.technician_pin), ("viewer", self.cfg.viewer_pin)):
            # constant-time compare: the answer time says nothing about how much of a PIN was right
            if expected and hmac.compare_digest(given, expected.encode()):
                return role
        return None
