"""Power sharing on the rig (issue #18): the controller runs the nevi-shared cabinet (eight 90 kW groups, a
matrix to four outputs, a 600 kW site limit) with cars over V2G on every port. In every test no matrix contact
opens or closes with more than 1 A through it or 20 V across it (the board simulator counts them)."""
from __future__ import annotations

import asyncio

import pytest

from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]


def _run(name: str, setup: str = "nevi-shared", **kwargs) -> dict:
    report, problems = asyncio.run(run_scenario(name, load_setup(setup), **kwargs))
    assert not problems, f"{problems} {report.get('matrix')}"
    return report


def _no_switching_under_load(report: dict) -> None:
    matrix = report["matrix"]
    assert matrix["matrix_switchings"] >= 4  # groups did move onto the outputs
    assert matrix["matrix_switched_under_load"] == 0, matrix["matrix_under_load"]


def _safe(report: dict) -> None:
    for conn in report["connectors"]:
        final = conn["final"]
        assert final["contactors_closed"] is False and final["modules_on"] is False
        assert final["output_current_a"] < 1.0


def test_four_cars_charge_at_once_each_with_its_nevi_floor_within_the_site_limit():
    report = _run("dc-session")
    assert report["result"] == "ok" and report["faults"] == []
    for conn in report["connectors"]:
        assert conn["car"]["reason"] == "target_soc" and conn["stop_reason"] == "ev_stop"
        assert conn["peak_kw"] >= 145.0  # 150 kW each when all four charge (NEVI)
    assert sum(c["peak_kw"] for c in report["connectors"]) <= 600.0 * 1.02
    _no_switching_under_load(report)
    _safe(report)


def test_an_emergency_on_one_port_cuts_only_its_groups_and_the_others_charge_on_with_them():
    report = _run("estop")
    first, *others = report["connectors"]
    assert [f["code"] for f in report["faults"]] == ["ESTOP_PRESSED"]
    assert first["stop_reason"].startswith("emergency")
    for conn in others:
        assert conn["car"]["reason"] == "target_soc" and conn["stop_reason"] == "ev_stop"
    # port 1's groups went to the others once it stopped: someone got more than the 150 kW floor
    assert max(c["peak_kw"] for c in others) > 160.0
    _safe(report)
    # late in the run a freed group may be closing onto the last charging port as its car stops: the stop waits
    # for the contact to land (controller/connector/power_down.py), so no contact closes across a moving voltage
    _no_switching_under_load(report)


def test_a_lost_module_on_a_shared_port_is_shared_out_and_every_car_reaches_its_target():
    report = _run("module-lost")
    assert "MODULE_LOST" in [f["code"] for f in report["faults"]]
    assert all(c["car"]["reason"] == "target_soc" for c in report["connectors"])
    _no_switching_under_load(report)
    _safe(report)


def test_a_lone_800_v_car_gets_more_than_150_kw_up_to_what_its_cable_accepts():
    report = _run("lone-car-high-power")
    (conn,) = report["connectors"]
    assert conn["connector"] == 3 and conn["car"]["reason"] == "target_soc"
    # port 3 is NACS, 400 A: at the car's 650-700 V that is 260-280 kW, far above the static layout's 150 kW
    assert conn["peak_kw"] > 240.0
    assert report["sharing"]["cabinet_peak_kw"] <= 350.0 * 1.02  # never above the cable's 350 kW
    _no_switching_under_load(report)
    _safe(report)


# Measured 1.3-1.4 s run alone on an idle machine (make bench's figure, goal 2 s: 1.44 s); 3.2-3.3 s inside make
# test's serial part after the other alone tests (CI trials of 2026-12-03). The bench holds the goal; this bound
# only catches a car left without its floor.
FOURTH_CAR_BOUND_S = 5.0


def test_a_fourth_car_has_its_floor_within_the_bound_and_every_car_reaches_its_target():
    report = _run("fourth-car-arrives")
    sharing = report["sharing"]
    assert sharing["plugged_s"][4] >= 3.0  # it came while the three others charged
    assert sharing["fourth_car_to_floor_s"] is not None and sharing["fourth_car_to_floor_s"] < FOURTH_CAR_BOUND_S
    assert all(c["car"]["reason"] == "target_soc" for c in report["connectors"])
    assert sharing["over_site_limit_s"] <= 1.0 and sharing["cabinet_peak_kw"] <= 600.0 * 1.05
    _no_switching_under_load(report)
    _safe(report)


def test_a_group_lost_under_sharing_is_dropped_and_both_cars_reach_their_target():
    report = _run("group-lost-under-sharing")
    assert "MODULE_LOST" in [f["code"] for f in report["faults"]]
    assert [c["car"]["reason"] for c in report["connectors"]] == ["target_soc", "target_soc"]
    assert report["injection"] is not None
    assert report["sharing"]["returned_groups"] == []  # its modules never answer again: it stays out
    _no_switching_under_load(report)
    _safe(report)


def test_a_group_lost_for_a_moment_is_offered_again_once_healthy_for_the_hold_time():
    report, problems = asyncio.run(run_scenario(
        "group-returns", load_setup("nevi-shared", ("power.matrix.return_hold_s=1.0",))))
    assert not problems, f"{problems} {report.get('sharing')}"
    assert "MODULE_LOST" in [f["code"] for f in report["faults"]]
    sharing = report["sharing"]
    # the group silenced is whichever serves port 1 when the injection comes (G1 on an idle machine; the
    # allocation's timing may have moved another there first): it returns once, having stayed healthy; with
    # nothing dropped at the end (below), the one returned is the one silenced
    assert len(sharing["returned_groups"]) == 1, sharing
    assert sharing["dropped_groups"] == []  # nothing left out of the allocation at the end
    assert [c["car"]["reason"] for c in report["connectors"]] == ["target_soc", "target_soc"]
    _no_switching_under_load(report)
    _safe(report)


@pytest.mark.timeout(300)
def test_corridor_runs_the_same_cars_on_both_layouts_and_sharing_shortens_800_v_sessions():
    from tools.bench.corridor_hour import corridor_hour
    arrivals = ((1, 0.0, "800v-350kw"), (2, 2.0, "800v-350kw"))  # two 800 V cars: 600 kW for them to share
    result = asyncio.run(corridor_hour(arrivals))
    shared, static = result["shared"], result["static"]
    assert shared["sessions"] == static["sessions"] == 2 and shared["all_charged"] and static["all_charged"]
    assert shared["switched_under_load"] == 0 and shared["sharing"]["over_site_limit_s"] <= 1.0
    # static: 150 kW each; shared: up to 350 A x ~700 V each on the CCS1 cables
    assert result["mean_session_ratio"] < 0.85, result


def test_site_limit_on_the_shared_cabinet_the_sum_follows_a_300_kw_station_maximum_within_2_s():
    from hil.csms.role_smart_charging import SHARED_FOLLOW_BOUND_S, TOLERANCE
    report = _run("site-limit-shared")
    smart = report["ocpp"]["smart_charging"]
    assert report["ocpp"]["violations"] == []
    assert smart["before_w"] > 450_000  # the cars drew well over 300 kW when the profile went out
    assert smart["follow_s"] is not None and smart["follow_s"] <= SHARED_FOLLOW_BOUND_S == 2.0
    # afterwards never above 300 kW + 2 % for more than 1 s (the verdict), and here not at all past the bound
    assert all(length <= 1.0 for _, length in smart["excursions"]), smart["excursions"]
    assert smart["peak_after_bound_w"] <= 300_000 * (1 + TOLERANCE)
    # the fourth car came under the limit: it got a group (moved without load) and charged to its target
    assert report["sharing"]["plugged_s"][4] >= 3.0
    assert [c["car"]["reason"] for c in report["connectors"]] == ["target_soc"] * 4
    assert report["connectors"][3]["energy_kwh"] > 0.0
    _no_switching_under_load(report)
    _safe(report)
