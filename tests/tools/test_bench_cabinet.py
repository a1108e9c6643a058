"""The benches' cabinet is the HIL runner's ScenarioRun, driven in halves: start(), cars plugged by the bench,
stop(). Checked on the desk setup in this process: what the benches read (times, channels, IMD taps, the OCPP
link to the rig's CSMS over TLS) and that stopping with the car still charging leaves no power on."""
from __future__ import annotations

import asyncio

import pytest

from hil.ev.car import CarPlan
from hil.runner import ScenarioRun
from hil.scenarios import SCENARIOS
from hil.setup import load_setup
from tools.bench.cabinet import BenchCabinet

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def test_a_bench_cabinet_charges_through_its_imd_tap_and_stops_safe_with_the_car_still_charging():
    async def scenario():
        run = BenchCabinet("desk", "in_process", tap_imds=True)
        try:
            await run.start()
            seen = {"spawned_t": run.spawned_t, "available_t": dict(run.state.available_t),
                    "started_t": run.state.started_t, "channels": run.can_channels()}
            await run.charge()
            await asyncio.sleep(0.5)  # a few IMD polls through the tap
            seen["charging"] = {cid: car.phase for cid, car in run.cars.items()}
            seen["tap_replies"] = {cid: len(tap.replies) for cid, tap in run.imd_taps.items()}
            seen["ocpp"] = run.ocpp_link()
            seen["ocpp_events"] = [(e["eventType"], e["transactionInfo"]["chargingState"])
                                   for e in run.csms.csms.calls("TransactionEvent")]
            tasks = list(run._car_tasks)
        finally:
            await run.close()
        seen["car_tasks_done"] = all(t.done() for t in tasks)
        seen["final"] = {cid: run.rig.final_state(cid) for cid in run.connector_ids}
        seen["series_rows"] = len(run.series.rows)
        return run, seen

    run, seen = asyncio.run(scenario())
    ids = run.connector_ids
    assert seen["spawned_t"] is not None and seen["started_t"] >= seen["spawned_t"]
    assert sorted(seen["available_t"]) == ids and all(t >= seen["spawned_t"] - 1.0
                                                      for t in seen["available_t"].values())
    assert seen["channels"] and all(interface == "virtual" for interface, _ in seen["channels"])
    assert seen["charging"] == {cid: "charging" for cid in ids}
    assert sorted(seen["tap_replies"]) == ids and all(n > 0 for n in seen["tap_replies"].values())
    ocpp = seen["ocpp"]  # linked over TLS before the car came, every frame valid
    assert ocpp["enabled"] and (ocpp["security_profile"], ocpp["transport"]) == (2, "wss"), ocpp
    assert ocpp["boot_notifications"] == 1 and ocpp["schema_violations"] == 0, ocpp
    assert seen["ocpp_events"][0] == ("Started", "EVConnected") and ("Updated", "Charging") in seen["ocpp_events"]
    assert seen["car_tasks_done"]  # stop() cancelled the cars that were still charging
    for final in seen["final"].values():  # and the power went off with them
        assert final == {"contactors_closed": False, "modules_on": False, "output_current_a": 0.0}
    assert seen["series_rows"] == 0  # record_series=False: the bench's loop is not sampled


def test_before_controller_runs_once_the_rig_is_up_and_its_overrides_reach_the_controller(tmp_path):
    calls = []

    async def before(run: ScenarioRun) -> list[str]:
        calls.append(sorted(run.rig.io_sims))  # the rig's simulators exist by now
        return [f'store.path="{tmp_path / "hooked.sqlite"}"']

    async def scenario():
        run = ScenarioRun(SCENARIOS["dc-session"], load_setup("desk"), before_controller=before)
        try:
            await run.start()
            return run, run.controller.app.config.store.path
        finally:
            await run.stop()

    run, store_path = asyncio.run(scenario())
    assert calls == [[c.id for c in run.setup.cabinet_config.connectors]]
    assert str(store_path) == str(tmp_path / "hooked.sqlite")


def test_plug_car_starts_a_car_the_run_reports_and_stop_cancels_it():
    async def scenario():
        run = ScenarioRun(SCENARIOS["dc-session"], load_setup("desk"), record_series=False)
        try:
            await run.start()
            cid = run.setup.cabinet_config.connectors[0].id
            task = run.plug_car(cid, CarPlan(target_soc=99.0))
            await asyncio.sleep(0.3)
            alive = not task.done()
            car = run.cars[cid]
        finally:
            await run.stop()
        return alive, task, car, run.start_soc.get(cid)

    alive, task, car, start_soc = asyncio.run(scenario())
    assert alive and task.cancelled()
    assert start_soc is not None and car.battery is not None


def test_a_bench_cabinet_without_ocpp_starts_no_csms():
    run = BenchCabinet("desk", "in_process", ocpp_profile=None)
    assert run.csms is None and run.ocpp_link() == {"enabled": False}
    with pytest.raises(ValueError, match="security profile must be 1, 2 or 3"):
        BenchCabinet("desk", "in_process", ocpp_profile=4)
