"""The bench figure pnc_answer_ms: PaymentDetails and Authorization answered with real chain and signature
checks, timed, summarised and judged."""
from __future__ import annotations

import pytest

from tools.bench import pnc_answer
from tools.bench.__main__ import FIGURES, describe

pytestmark = pytest.mark.timeout(60)


def test_the_quick_figure_times_both_answers():
    figure = pnc_answer.run_pnc_answer(quick=True)
    assert figure["status"] == "ok", figure
    for name in ("payment_details_ms", "authorization_ms", "both_ms"):
        assert figure[name]["n"] == 5 and 0 < figure[name]["p50"] <= figure[name]["max"]
    assert figure["both_ms"]["p50"] >= figure["payment_details_ms"]["p50"]
    [row] = pnc_answer.goals(figure)
    assert row["value"] == figure["both_ms"]["p99"] and row["limit"] == pnc_answer.ANSWER_GOAL_MS
    assert any("PaymentDetails p50" in line for line in describe("pnc_answer_ms", figure))
    assert FIGURES["pnc_answer_ms"] is pnc_answer.run_pnc_answer


def test_a_figure_that_did_not_run_is_not_measured():
    [row] = pnc_answer.goals({"status": "error", "reason": "boom"})
    assert row["verdict"] == "not measured"
