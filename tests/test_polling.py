"""The shared poll of the async tests (tests/polling.py)."""
from __future__ import annotations

import asyncio

import pytest

from tests.polling import until

pytestmark = pytest.mark.timeout(10)


def test_until_returns_once_the_condition_holds():
    async def main() -> int:
        calls = []

        def condition() -> bool:
            calls.append(1)
            return len(calls) >= 3
        await until(condition, "three looks", timeout_s=2.0, period_s=0.001)
        return len(calls)
    assert asyncio.run(main()) == 3


def test_until_fails_the_test_naming_what_it_waited_for():
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for the meter"):
        asyncio.run(until(lambda: False, "the meter", timeout_s=0.05, period_s=0.01))
