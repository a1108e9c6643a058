"""The soak's verdict must fail on growth: a leak of one fd, a thread, a task, or 3 MB of RSS after warm-up."""
from __future__ import annotations

import pytest

from tools.bench.soak import judge_growth, least_squares_slope


def _samples(**grow):
    out = []
    for i, n in enumerate(range(0, 600, 50)):
        s = {"sessions": n, "rss_mb": 60.0 + (0.3 if i % 2 else 0.0), "fds": 50, "threads": 3, "tasks": 49,
             "store_kb": 100.0 + n}
        for key, per_sample in grow.items():
            s[key] = s[key] + per_sample * i
        out.append(s)
    return out


def test_flat_figures_with_noise_pass():
    assert judge_growth(_samples(), warmup=100)["ok"]


@pytest.mark.parametrize("key, per_sample", [("fds", 1), ("threads", 1), ("tasks", 1), ("rss_mb", 0.3)])
def test_growth_after_warmup_fails(key, per_sample):
    verdict = judge_growth(_samples(**{key: per_sample}), warmup=100)
    assert not verdict["ok"] and not verdict[key]["ok"]


def test_growth_only_during_warmup_passes():
    samples = _samples()
    samples[0]["tasks"] = 40
    samples[1]["threads"] = 1
    assert judge_growth(samples, warmup=100)["ok"]


def test_too_few_samples_is_a_failure_not_a_pass():
    assert not judge_growth(_samples()[:2], warmup=100)["ok"]


def test_least_squares_slope():
    assert least_squares_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
