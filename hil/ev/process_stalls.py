"""How long the car's own process went unscheduled, so that its deadlines do not blame the SECC for it.

In the rig the car mostly shares its process and event loop with the controller. When the OS does not run the
process for 0.3 s (a loaded 2-core machine), the car's wall clock sees a 0.3 s round trip although the SECC
answered at once in its own time. A heartbeat on the loop wakes every PERIOD_S; the time it woke late, minus the
CPU time the process used meanwhile (time.process_time(), all threads), is time nobody in the process ran: a
stall. A SECC that blocks the shared loop with computation uses CPU, so that lateness is still its own; a SECC
that answers late while the process runs normally leaves the heartbeat on time. Pieces under MIN_STALL_S are
timer noise and not counted.

What it cannot tell apart: the loop thread blocked in a system call that uses no CPU (a synchronous fsync or
time.sleep on the shared loop) looks like a stall and is forgiven too. /proc/self/schedstat's run delay would
tell them apart for CPU contention, but not a SIGSTOP or a cgroup's CPU throttling, which this measure catches.

`StallMeter.mark()` then `stalled_since(mark)`: the stall measured between the two, including the heartbeat
period still running (after a SIGCONT the car's timeout may fire before the heartbeat has run). `extended(s)`
records a deadline that was moved by `s` seconds, for the report.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable

PERIOD_S = 0.02
MIN_STALL_S = 0.03


class StallMeter:
    def __init__(self, *, wall: Callable[[], float] = time.monotonic, cpu: Callable[[], float] = time.process_time):
        self._wall = wall
        self._cpu = cpu
        self._base = (wall(), cpu())  # the heartbeat's last wake-up
        self._total_s = 0.0           # stalls of the finished heartbeat periods
        self._task: asyncio.Task | None = None
        self._measuring = False  # no heartbeat, no measure: idle time would look like a stall
        self.stalls: list[float] = []  # each stall measured (s)
        self.extensions: list[float] = []  # each deadline moved for a stall (s)

    # ---- the heartbeat -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin measuring on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self.begin()
            self._task = asyncio.get_running_loop().create_task(self._beat(), name="car stall heartbeat")

    def begin(self) -> None:
        """Measure from now; the caller calls `sample()` every PERIOD_S (`start` does it with a task)."""
        self._base = (self._wall(), self._cpu())
        self._measuring = True

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._measuring = False
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(PERIOD_S)
            self.sample()

    def sample(self) -> None:
        """Close the current heartbeat period (the heartbeat calls this; a test may too)."""
        stall = self._pending()
        if stall:
            self._total_s += stall
            self.stalls.append(stall)
        self._base = (self._wall(), self._cpu())

    def _pending(self) -> float:
        if not self._measuring:
            return 0.0
        wall0, cpu0 = self._base
        late = (self._wall() - wall0) - PERIOD_S
        stall = late - (self._cpu() - cpu0)
        return stall if stall >= MIN_STALL_S else 0.0

    def add_stall(self, seconds: float) -> None:
        """A stall measured elsewhere (a test's simulated deschedule)."""
        self._total_s += seconds
        self.stalls.append(seconds)

    # ---- what deadlines use ------------------------------------------------------------------------------
    def stalled_s(self) -> float:
        """Every stall so far, the running heartbeat period's included."""
        return self._total_s + self._pending()

    def mark(self) -> float:
        return self.stalled_s()

    def stalled_since(self, mark: float) -> float:
        """The stall since `mark`; under MIN_STALL_S it is the few ms between a resume and the heartbeat's
        sample of a stall that ended before the mark: none."""
        stalled = self.stalled_s() - mark
        return stalled if stalled >= MIN_STALL_S else 0.0

    def extended(self, seconds: float) -> None:
        if seconds > 0:
            self.extensions.append(seconds)


def stall_summary(meters: list[StallMeter]) -> dict:
    """For the report, over a connector's car links: deadlines extended (count, total, largest) and the stalls
    measured (count, total, largest), in seconds."""
    extensions = [s for m in meters for s in m.extensions]
    stalls = [s for m in meters for s in m.stalls]
    return {"deadlines_extended": len(extensions), "extended_s": round(sum(extensions), 3),
            "largest_extension_s": round(max(extensions, default=0.0), 3),
            "stalls": len(stalls), "stalled_s": round(sum(stalls), 3),
            "largest_stall_s": round(max(stalls, default=0.0), 3)}


def stall_line(summary: dict) -> str | None:
    """"car deadlines extended 3 times, 0.41 s in all, for process stalls (...)"; None when the car's process
    never stalled."""
    if not summary.get("deadlines_extended") and not summary.get("stalls"):
        return None
    n, stalls = summary["deadlines_extended"], summary["stalls"]
    return (f"car deadlines extended {n} time{'s' if n != 1 else ''}, {summary['extended_s']:.2f} s in all, "
            f"for process stalls (largest {summary['largest_extension_s']:.2f} s; "
            f"{stalls} stall{'s' if stalls != 1 else ''}, {summary['stalled_s']:.2f} s measured)")


async def wait_with_stalls(awaitable, timeout_s: float, meter: StallMeter | None):
    """`asyncio.wait_for(awaitable, timeout_s)`, except that time the process was stalled (per `meter`) does not
    count: the deadline moves by it. asyncio.TimeoutError when `timeout_s` of unstalled time passed."""
    if meter is None:
        return await asyncio.wait_for(awaitable, timeout_s)
    mark = meter.mark()
    started = time.monotonic()
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            remaining = started + timeout_s + meter.stalled_since(mark) - time.monotonic()
            if remaining > 0:
                done, _ = await asyncio.wait({task}, timeout=remaining)
                if done:
                    break
                continue
            if task.done():  # answered in the same loop turn the deadline passed
                break
            raise asyncio.TimeoutError()
    except BaseException:
        if not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        raise
    return task.result()
