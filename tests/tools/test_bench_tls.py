"""The bench figure tls_handshake_ms: full ISO 15118-2 handshakes timed, summarised and judged."""
from __future__ import annotations

import pytest

from tools.bench import tls_handshake
from tools.bench.__main__ import describe

pytestmark = pytest.mark.timeout(60)


def test_the_quick_figure_times_each_handshake_with_the_iso2_suite():
    figure = tls_handshake.run_tls_handshake(quick=True)
    assert figure["status"] == "ok" and figure["handshake_ms"]["n"] == 5, figure
    assert figure["negotiated"] == ["TLSv1.2 ECDHE-ECDSA-AES128-SHA256"] and figure["failed_on_secc"] == 0
    assert 0 < figure["handshake_ms"]["p50"] <= figure["handshake_ms"]["max"]
    [row] = tls_handshake.goals(figure)
    assert row["value"] == figure["handshake_ms"]["p99"] and row["limit"] == tls_handshake.HANDSHAKE_GOAL_MS
    assert any("handshake n=5" in line for line in describe("tls_handshake_ms", figure))


def test_a_figure_that_did_not_run_is_not_measured():
    [row] = tls_handshake.goals({"status": "error", "reason": "boom"})
    assert row["verdict"] == "not measured"
