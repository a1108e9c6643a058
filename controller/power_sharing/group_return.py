"""When a group dropped from the allocation may be offered again (issue #18).

The coordinator drops a group that failed (its modules were lost, or a move of it failed) into its `failed` set;
without this the group stayed out until the controller restarted. A dropped group is offered again once
- every one of its modules has answered healthy, without a break, for the hold time (`[power.matrix]
  return_hold_s`), counted from the drop at the earliest, with no move of it running and its matrix contact
  open (the caller's `healthy`: it comes back from idle only; a welded contact keeps it out), and
- no emergency is latched on the port it last served: a group that may have caused it (a module's over-voltage,
  a short circuit) stays out until a technician has cleared that port.

A group that fails again soon after it came back waits twice as long the next time (up to MAX_BACKOFF times the
hold), so a module that dies whenever it is loaded does not make the cabinet move groups every few seconds. One
that served for FORGET_AFTER holds since its last return starts from the plain hold again.

No I/O: the caller says what is healthy and what is latched (controller/power_sharing/live.py).
"""
from __future__ import annotations

from typing import Callable, Iterable

MAX_BACKOFF = 8  # the longest wait is this many holds
FORGET_AFTER = 10  # holds of service after a return that make the group's next failure count as its first


class GroupReturn:
    def __init__(self, hold_s: float, *, clock: Callable[[], float]):
        self.hold_s, self.clock = hold_s, clock
        self.last_output: dict[str, int | None] = {}  # group -> the port it served when it was dropped
        self._dropped_t: dict[str, float] = {}
        self._healthy_since: dict[str, float] = {}
        self._returns: dict[str, int] = {}  # group -> returns in a row (the backoff)
        self._returned_t: dict[str, float] = {}
        self.returned: list[tuple[str, float]] = []  # (group, when) of every return, for the console and tests

    def dropped(self, group: str, output: int | None) -> None:
        """The group left the allocation, last serving `output` (None: it served no port)."""
        now = self.clock()
        if group in self._dropped_t:  # already out: its first port stays the one to check
            return
        if now - self._returned_t.get(group, -float("inf")) > FORGET_AFTER * self.hold_s:
            self._returns[group] = 0
        self.last_output[group] = output
        self._dropped_t[group] = now
        self._healthy_since.pop(group, None)

    def hold_for(self, group: str) -> float:
        return self.hold_s * min(2 ** self._returns.get(group, 0), MAX_BACKOFF)

    def due(self, failed: Iterable[str], *, healthy: Callable[[str], bool],
            emergency_latched: Callable[[int], bool], where: Callable[[str], int | None]) -> list[str]:
        """The dropped groups that may be offered again now. A group in `failed` not yet known is noted as
        dropped now, on the port `where` says it is on."""
        now = self.clock()
        failed = set(failed)
        for group in [g for g in self._dropped_t if g not in failed]:  # returned by someone else: forget it
            self._forget(group)
        ready = []
        for group in sorted(failed):
            if group not in self._dropped_t:
                self.dropped(group, where(group))
            if not healthy(group):
                self._healthy_since.pop(group, None)
                continue
            since = max(self._healthy_since.setdefault(group, now), self._dropped_t[group])
            last = self.last_output.get(group)
            if last is not None and emergency_latched(last):
                continue
            if now - since >= self.hold_for(group):
                ready.append(group)
        for group in ready:
            self._returns[group] = self._returns.get(group, 0) + 1
            self._returned_t[group] = now
            self.returned.append((group, now))
            self._forget(group)
        return ready

    def _forget(self, group: str) -> None:
        self._dropped_t.pop(group, None)
        self._healthy_since.pop(group, None)
        self.last_output.pop(group, None)
