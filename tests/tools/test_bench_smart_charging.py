"""The bench figure smart_charging_limit_ms: one site-limit round measured, summarised and judged."""
from __future__ import annotations

import pytest

from tools.bench import smart_charging_limit
from tools.bench.__main__ import describe

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def test_one_round_times_every_connector_and_gives_one_goal_row():
    figure = smart_charging_limit.run_smart_charging_limit(quick=True)
    assert figure["status"] == "ok", figure["problems"]
    numbers = figure["set_to_current_demand_res_ms"]
    assert numbers["n"] == 4 and 0 < numbers["p50"] <= numbers["max"]
    [row] = smart_charging_limit.goals(figure)
    assert row["value"] == numbers["max"] and row["limit"] == smart_charging_limit.GOAL_MS
    assert any("SetChargingProfile -> CurrentDemandRes" in line for line in describe("smart_charging_limit_ms", figure))


def test_a_round_that_failed_is_not_measured():
    [row] = smart_charging_limit.goals({"status": "error", "problems": ["boom"]})
    assert row["verdict"] == "not measured" and "boom" in row["note"]
