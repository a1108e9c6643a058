"""The bench figure certificate_installation_ms: CertificateInstallation round trips through OCPP to the rig's
CSMS, timed, summarised and judged."""
from __future__ import annotations

import pytest

from tools.bench import certificate_installation
from tools.bench.__main__ import describe

pytestmark = pytest.mark.timeout(60)


def test_the_quick_figure_times_each_round_trip_with_real_answers():
    figure = certificate_installation.run_certificate_installation(quick=True)
    assert figure["status"] == "ok" and figure["round_trip_ms"]["n"] == 3, figure
    assert figure["emaid"] == "USCPIC0000001X"  # the car installed the first answer
    [row] = certificate_installation.goals(figure)
    assert row["value"] == figure["round_trip_ms"]["p99"] and row["limit"] == certificate_installation.ROUND_TRIP_GOAL_MS
    assert any("round trip n=3" in line for line in describe("certificate_installation_ms", figure))


def test_a_figure_that_did_not_run_is_not_measured():
    [row] = certificate_installation.goals({"status": "error", "reason": "boom"})
    assert row["verdict"] == "not measured"
