"""A dropped group comes back (controller/power_sharing/group_return.py): only after its modules have answered
healthy for the hold time without a break, never while an emergency is latched on the port it last served, and
later each time it fails again soon after a return."""
from __future__ import annotations

import pytest

from controller.power_sharing.group_return import FORGET_AFTER, MAX_BACKOFF, GroupReturn

pytestmark = pytest.mark.timeout(30)

HOLD_S = 10.0


class Cabinet:
    """What the return asks about: which groups are healthy, which ports have an emergency latched."""

    def __init__(self) -> None:
        self.now = 0.0
        self.healthy: set[str] = set()
        self.latched: set[int] = set()
        self.contacts: dict[str, int | None] = {}
        self.returns = GroupReturn(HOLD_S, clock=lambda: self.now)

    def due(self, failed: set[str]) -> list[str]:
        return self.returns.due(failed, healthy=lambda g: g in self.healthy,
                                emergency_latched=lambda o: o in self.latched, where=self.contacts.get)

    def run_until_due(self, failed: set[str], bound_s: float = 200.0, step_s: float = 0.5) -> float | None:
        """Seconds until the group(s) come back, stepping the clock; None if not within the bound."""
        started = self.now
        while self.now - started <= bound_s:
            if self.due(failed):
                return self.now - started
            self.now += step_s
        return None


def test_a_lost_group_returns_once_its_modules_have_answered_healthy_for_the_hold_time():
    cab = Cabinet()
    cab.returns.dropped("G1", 2)
    assert cab.due({"G1"}) == []
    cab.now = 5.0
    cab.healthy.add("G1")  # its modules answer again
    assert cab.due({"G1"}) == []
    cab.now = 5.0 + HOLD_S - 0.1
    assert cab.due({"G1"}) == []
    cab.now = 5.0 + HOLD_S
    assert cab.due({"G1"}) == ["G1"]
    assert cab.returns.returned == [("G1", 5.0 + HOLD_S)]


def test_a_break_in_its_health_starts_the_hold_again():
    cab = Cabinet()
    cab.returns.dropped("G1", 2)
    cab.healthy.add("G1")
    assert cab.due({"G1"}) == []
    cab.now = 8.0
    cab.healthy.discard("G1")  # a module fell silent again
    assert cab.due({"G1"}) == []
    cab.now = 9.0
    cab.healthy.add("G1")
    assert cab.due({"G1"}) == []
    cab.now = 9.0 + HOLD_S - 0.5
    assert cab.due({"G1"}) == []  # 18.5 s since the drop, but only 9.5 s healthy in a row
    cab.now = 9.0 + HOLD_S
    assert cab.due({"G1"}) == ["G1"]


def test_a_group_healthy_all_along_waits_the_hold_from_its_drop():
    cab = Cabinet()
    cab.healthy.add("G3")
    cab.now = 100.0
    cab.contacts["G3"] = 4  # a move of it failed: noted on the port its contact is closed on
    assert cab.due({"G3"}) == []
    assert cab.returns.last_output["G3"] == 4
    assert cab.run_until_due({"G3"}) == pytest.approx(HOLD_S)


def test_never_while_an_emergency_is_latched_on_its_last_port_and_at_once_when_it_is_cleared():
    cab = Cabinet()
    cab.returns.dropped("G2", 1)
    cab.healthy.add("G2")
    cab.latched.add(1)  # e.g. MODULE_OVERVOLTAGE of one of its modules, latched until a technician clears it
    assert cab.due({"G2"}) == []
    cab.now = 60.0
    assert cab.due({"G2"}) == []
    cab.latched.add(3)
    cab.latched.discard(1)  # cleared on port 1; an emergency on another port does not hold it back
    assert cab.due({"G2"}) == ["G2"]


def test_a_group_that_fails_again_soon_waits_twice_as_long_up_to_the_longest_backoff():
    cab = Cabinet()
    cab.healthy.add("G1")
    waits = []
    for _ in range(5):
        cab.returns.dropped("G1", 2)
        waits.append(cab.run_until_due({"G1"}))
        cab.now += 1.0  # it fails again a second after it came back
    assert waits == pytest.approx([HOLD_S, 2 * HOLD_S, 4 * HOLD_S, MAX_BACKOFF * HOLD_S, MAX_BACKOFF * HOLD_S])
    cab.now += FORGET_AFTER * HOLD_S + 1.0  # then it serves long enough: its next failure counts as a first
    cab.returns.dropped("G1", 2)
    assert cab.run_until_due({"G1"}) == pytest.approx(HOLD_S)


def test_a_group_no_longer_failed_is_forgotten_and_a_new_drop_counts_afresh():
    cab = Cabinet()
    cab.returns.dropped("G1", 2)
    cab.healthy.add("G1")
    cab.now = 5.0
    assert cab.due(set()) == []  # the coordinator no longer has it (returned otherwise): nothing kept
    assert "G1" not in cab.returns.last_output
    cab.returns.dropped("G1", 3)
    assert cab.returns.last_output["G1"] == 3
    assert cab.run_until_due({"G1"}) == pytest.approx(HOLD_S)
