"""Waiting in async tests for something the code under test does in its own time."""
from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool], what: str = "the condition", timeout_s: float = 5.0,
                period_s: float = 0.005) -> None:
    """Poll `condition` every `period_s` until it holds; fail the test naming `what` after `timeout_s`
    (the bound only guards against a hang: a passing test never waits that long)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(period_s)
