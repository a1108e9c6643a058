"""Task supervision: the I/O board heartbeat advances only while every supervised task proves progress.

Each long-running task (the control tick, each module group, each Modbus poll) checks in once per turn of its
loop; `run()` judges them every EVALUATION_PERIOD_S. The I/O board drivers ask `heartbeat_allowed()` before
every command frame. A task that ended, or that has not checked in for longer than its bound, is a failure:
`on_failure` runs first (the app raises CONTROLLER_INTERNAL on every connector, which powers off and sends the
open commands), then the heartbeat is held, so every board trips by itself within its watchdog time whatever
the rest of the process still does. A stuck task that checks in again releases the heartbeat
(CONTROLLER_INTERNAL stays latched); a dead one never does.

Silence is credited per evaluation, at most `max_step_s` for one gap, and evaluations run as a periodic task
of their own: a process that was not scheduled for a while (CPU starvation, a long GC pause) lets every task
run once before any of them is judged stuck, and a slow turn of the loop (which runs the evaluation and the
control tick one after the other) cannot add up to a verdict. A task stuck awaiting something, while the loop
itself runs, accumulates silence at the normal rate.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

FailureSink = Callable[[str], None]
MAX_STEP_S = 0.1
EVALUATION_PERIOD_S = 0.05


@dataclass
class _Watched:
    max_silence_s: float
    silent_s: float = 0.0
    dead: str = ""  # why the task ended; empty while it runs


class TaskSupervisor:
    def __init__(self, on_failure: FailureSink, *, clock: Callable[[], float] = time.monotonic,
                 max_step_s: float = MAX_STEP_S):
        if max_step_s <= 0:
            raise ValueError("max_step_s must be positive")
        self._on_failure = on_failure
        self._clock = clock
        self._max_step_s = max_step_s
        self._tasks: dict[str, _Watched] = {}
        self._last_t: float | None = None
        self._held = False  # the heartbeat is held (after on_failure returned)
        self._reporting = False  # inside on_failure: the power-off commands must still go out
        self._stopping = False
        self.failures: list[str] = []

    def register(self, name: str, max_silence_s: float) -> Callable[[], None]:
        """Supervise `name`; the returned function is its check-in, to call once per turn of its loop."""
        if max_silence_s <= 0:
            raise ValueError(f"{name}: max_silence_s must be positive")
        if name in self._tasks:
            raise ValueError(f"task {name!r} is supervised already")
        self._tasks[name] = _Watched(max_silence_s)
        return lambda: self.check_in(name)

    def check_in(self, name: str) -> None:
        self._tasks[name].silent_s = 0.0

    def watch(self, task: asyncio.Task, name: str) -> None:
        """A supervised task that ends (returns, raises or is cancelled) while the app runs is dead."""
        task.add_done_callback(lambda t: self._ended(name, t))

    def stop(self) -> None:
        """The app is stopping: tasks that end now are not failures."""
        self._stopping = True

    # ---- the question every heartbeat asks -------------------------------------------------------------------
    def heartbeat_allowed(self) -> bool:
        return self._reporting or not self._held

    async def run(self, period_s: float = EVALUATION_PERIOD_S) -> None:
        """Evaluate every period until cancelled (the app watches this task like the others)."""
        while True:
            self.evaluate()
            await asyncio.sleep(period_s)

    def evaluate(self) -> list[str]:
        """Credit the time since the last evaluation, report new failures, hold or release the heartbeat;
        the names of the tasks that fail now."""
        now = self._clock()
        step = 0.0 if self._last_t is None else min(max(0.0, now - self._last_t), self._max_step_s)
        self._last_t = now
        failing = []
        for name, w in self._tasks.items():
            w.silent_s += step
            if w.dead:
                failing.append(name)
            elif w.silent_s > w.max_silence_s:
                failing.append(name)
        if failing and not self._held:
            self._fail("; ".join(self._describe(name) for name in failing))
        elif not failing and self._held:
            log.warning("every supervised task makes progress again: heartbeat released")
            self._held = False
        return failing

    @property
    def held(self) -> bool:
        return self._held

    def silence(self) -> dict[str, float]:
        """Credited seconds since each task's last check-in (for diagnostics)."""
        return {name: round(w.silent_s, 3) for name, w in self._tasks.items()}

    # ---- internals -----------------------------------------------------------------------------------------
    def _describe(self, name: str) -> str:
        w = self._tasks[name]
        return f"task {name} {w.dead}" if w.dead else \
            f"task {name} made no progress for {w.silent_s:.2f} s (bound {w.max_silence_s:.2f} s)"

    def _ended(self, name: str, task: asyncio.Task) -> None:
        if self._stopping:
            return
        if task.cancelled():
            why = "was cancelled"
        elif task.exception() is not None:
            exc = task.exception()
            why = f"died: {exc.__class__.__name__}: {exc}"
        else:
            why = "returned"
        self._tasks[name].dead = why
        if not self._held:
            self._fail(self._describe(name))

    def _fail(self, reason: str) -> None:
        log.error("task supervision: %s; cutting power and holding the I/O board heartbeat", reason)
        self.failures.append(reason)
        self._reporting = True
        try:
            self._on_failure(reason)
        except Exception:  # the heartbeat is held whatever the reaction did: the boards trip by themselves
            log.exception("task supervision: the failure reaction raised")
        finally:
            self._reporting = False
            self._held = True
