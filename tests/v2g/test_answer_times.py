"""The SECC's answer-time record: counts and worst over the whole session, percentiles over kept samples."""
import pytest

from controller.v2g.secc.answer_times import KEPT_SAMPLES, AnswerTimes, percentile

pytestmark = pytest.mark.timeout(10)


def test_nearest_rank_percentiles():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile(values, 1.0) == 100
    assert percentile([7], 0.99) == 7


def test_summary_per_request_type_in_milliseconds():
    times = AnswerTimes()
    for micros in (300, 100, 200):
        times.add("CurrentDemandReq", micros / 1e6)
    times.add("SessionSetupReq", 0.0021)
    summary = times.summary()
    assert summary["CurrentDemandReq"] == {"count": 3, "median_ms": 0.2, "p99_ms": 0.3, "max_ms": 0.3}
    assert summary["SessionSetupReq"]["count"] == 1 and summary["SessionSetupReq"]["max_ms"] == 2.1
    assert times.samples_us()["CurrentDemandReq"] == [300, 100, 200]


def test_samples_are_bounded_but_count_and_worst_cover_the_session():
    times = AnswerTimes()
    times.add("CurrentDemandReq", 0.050)  # an early slow answer, pushed out of the kept samples later
    for _ in range(KEPT_SAMPLES):
        times.add("CurrentDemandReq", 0.001)
    summary = times.summary()["CurrentDemandReq"]
    assert len(times.samples_us()["CurrentDemandReq"]) == KEPT_SAMPLES
    assert summary["count"] == KEPT_SAMPLES + 1 and summary["max_ms"] == 50.0 and summary["p99_ms"] == 1.0
