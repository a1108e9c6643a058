"""Input budget and the capped output buffer."""
from __future__ import annotations

import pytest

from controller.console.flow_limits import InputBudget, OutputBuffer
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(10)


def test_the_input_budget_allows_a_burst_then_its_rate():
    clock = FakeClock(0.0)
    budget = InputBudget(100.0, 50, clock=clock)
    assert budget.take(80) == 50
    assert budget.take(10) == 0
    clock.advance(0.2)
    assert budget.take(100) == 20
    clock.advance(100.0)
    assert budget.take(100) == 50  # never more than the burst


def test_the_output_buffer_drops_whole_answers_and_says_so_later():
    out = OutputBuffer(100)
    assert out.add(b"a" * 60)
    assert not out.add(b"b" * 60)  # does not fit: dropped whole
    assert out.dropped == 60 and len(out) == 60
    out.consume(40)  # 20 left, under half the limit: the note goes in
    text = out.peek(1000)
    assert text.startswith(b"a" * 20) and b"60 bytes of output dropped" in text
    assert b"bb" not in text


def test_the_input_budget_needs_positive_numbers():
    with pytest.raises(ValueError):
        InputBudget(0, 10)
