"""OCPP smart charging through the whole rig (hil/csms/role_smart_charging.py): the cabinet's measured output
follows the CSMS's charging profiles within the bound, and stays within 2 % of the limit afterwards."""
from __future__ import annotations

import asyncio

import pytest

from hil.csms.role_smart_charging import FOLLOW_BOUND_S, TOLERANCE
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


def _run(name: str, setup: str, protocol: str = "din") -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup(setup), protocol=protocol))
    assert not problems, (problems, report.get("ocpp", {}).get("smart_charging"))
    return report


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_site_limit_the_static_nevi_cabinet_follows_a_300_kw_station_maximum(protocol):
    report = _run("site-limit", "nevi", protocol)
    smart = report["ocpp"]["smart_charging"]
    assert report["ocpp"]["violations"] == []
    assert smart["before_w"] > 500_000  # four cars at their 150 kW before the limit
    assert smart["follow_s"] is not None and smart["follow_s"] <= FOLLOW_BOUND_S
    assert smart["peak_after_bound_w"] <= 300_000 * (1 + TOLERANCE)
    assert smart["composite"]["charging_schedule_period"][0]["limit"] == 300_000
    assert [c["car"]["reason"] for c in report["connectors"]] == ["target_soc"] * 4


@pytest.mark.parametrize("protocol", ["din", "iso2"])
def test_tx_profile_limits_one_transaction(protocol):
    report = _run("tx-profile", "desk", protocol)
    smart = report["ocpp"]["smart_charging"]
    assert smart["before_w"] > 25_000 and smart["follow_s"] <= FOLLOW_BOUND_S
    assert smart["peak_after_bound_w"] <= 10_000 * (1 + TOLERANCE)
    assert report["ocpp"]["violations"] == []
