"""The rig's timing summary agrees with the controller's answer-time summary (nearest-rank percentiles)."""
from __future__ import annotations

import random

import pytest

from controller.v2g.secc.answer_times import summarize_ms as controller_summary
from hil.timing_summary import summarize_ms

pytestmark = pytest.mark.timeout(10)


def test_nearest_rank_on_a_small_sample():
    assert summarize_ms([1.0, 2.0, 3.0, 4.0]) == {"count": 4, "median_ms": 2.0, "p99_ms": 4.0, "max_ms": 4.0}
    assert summarize_ms([5.0], count=9, worst_ms=7.25) == {"count": 9, "median_ms": 5.0, "p99_ms": 5.0,
                                                           "max_ms": 7.25}


@pytest.mark.parametrize("size", [1, 2, 99, 100, 101, 1000])
def test_the_rig_and_the_controller_summarize_alike(size):
    samples = sorted(random.Random(size).uniform(0.1, 40.0) for _ in range(size))
    assert summarize_ms(samples) == controller_summary(samples)
