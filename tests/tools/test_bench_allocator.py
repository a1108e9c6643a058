"""The bench figure allocator_decision_us: measured, summarised and judged against its goal."""
from __future__ import annotations

import pytest

from tools.bench import allocator_time
from tools.bench.__main__ import describe

pytestmark = pytest.mark.timeout(60)


def test_the_quick_figure_times_every_decision_and_gives_one_goal_row():
    figure = allocator_time.run_allocator_time(quick=True)
    assert figure["status"] == "ok" and figure["decision_us"]["n"] == 200
    assert 0 < figure["decision_us"]["p50"] <= figure["decision_us"]["max"]
    [row] = allocator_time.goals(figure)
    assert row["value"] == figure["decision_us"]["p99"] and row["limit"] == allocator_time.DECISION_GOAL_US
    assert any("allocate() CPU n=200" in line for line in describe("allocator_decision_us", figure))


def test_a_figure_that_did_not_run_is_not_measured():
    [row] = allocator_time.goals({"status": "error", "reason": "boom"})
    assert row["verdict"] == "not measured"
