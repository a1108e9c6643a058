"""Issue 19: while the store's disk refuses writes (full or read-only), the controller keeps charging, ends
safe, says so in the console (`status`, `faults`) and the event stream (STORE_WRITE_FAILED), and when the disk
takes writes again the sessions of that time are in the store with their energy and the fault is cleared."""
from __future__ import annotations

import asyncio

import pytest

from controller.formats.events import FaultCleared, FaultRaised
from controller.store import StoreError
from tests.console.harness import ask, ask_json, connect, until
from tests.store.refusing_disk import RefusingDisk
from tools.bench.soak_sessions import SessionPlan, SoakRun, soak_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


@pytest.mark.parametrize("error", ["database or disk is full", "attempt to write a readonly database"])
def test_charging_goes_on_while_the_store_refuses_writes_and_the_console_says_so(tmp_path, monkeypatch, error):
    disk = RefusingDisk(monkeypatch, error)
    console = tmp_path / "console"
    run = SoakRun(soak_setup(tmp_path / "store.db", (f'console.port="pty:{console}"',)))
    cabinet_faults: list[dict] = []
    answers: dict = {}

    async def scenario():
        await run.start()
        try:
            run.controller.app.subscribe(
                lambda event: cabinet_faults.append(event.json_fields())
                if isinstance(event, (FaultRaised, FaultCleared)) and event.connector is None else None)
            await until(lambda: run.controller.app.console.connected, "the console's pty")
            client = await connect(str(console))
            try:
                disk.on = True
                await run.run_round([SessionPlan(0, 1, "din", "full"), SessionPlan(1, 2, "iso2", "console_stop")])
                answers["final"] = {cid: run.rig.final_state(cid) for cid in (1, 2)}
                answers["status"] = await ask_json(client, "json status")
                answers["status text"] = await ask(client, "status 1")
                answers["faults"] = await ask(client, "faults")
                disk.on = False
                await until(lambda: any(not f["active"] for f in cabinet_faults), "STORE_WRITE_FAILED cleared")
                answers["status after"] = await ask_json(client, "json status")
                store = run.controller.app.store
                with pytest.raises(StoreError, match=f"{error}.*x"):  # the events of that time were lost: said once
                    await asyncio.to_thread(store.flush)
                await asyncio.to_thread(store.flush)
                answers["sessions"] = store.recent_sessions(10)
                answers["fault history"] = store.fault_history(10)
            finally:
                client.close()
        finally:
            disk.on = False
            await run.stop()

    asyncio.run(scenario())
    full, stopped = sorted(run.outcomes, key=lambda o: o["index"])
    assert full["car_ok"] and full["car_reason"] == "target_soc" and full["energy_kwh"] > 0
    assert stopped["car_ok"] and stopped["car_reason"] == "evse_stop" and stopped["acted"]
    for final in answers["final"].values():
        assert final == {"contactors_closed": False, "modules_on": False, "output_current_a": 0.0}
    assert [(f["code"], f["severity"], f["active"]) for f in cabinet_faults] == [
        ("STORE_WRITE_FAILED", "warning", True), ("STORE_WRITE_FAILED", "warning", False)]
    assert error in cabinet_faults[0]["detail"]
    health = answers["status"]["data"]["store"]
    assert health["ok"] is False and health["held_writes"] > 0 and error in health["last_error"]
    assert "store: WRITES FAILING since" in answers["status text"]
    assert "connector -  STORE_WRITE_FAILED  warning  clears auto" in answers["faults"]
    assert answers["status after"]["data"]["store"]["ok"] is True
    # the sessions of the refused time were held and written: each once, ended, with its energy
    sessions = sorted(answers["sessions"], key=lambda s: s["id"])
    assert [(s["connector"], s["status"]) for s in sessions] == [(1, "ended"), (2, "ended")]
    assert [s["energy_kwh"] for s in sessions] == [full["energy_kwh"], stopped["energy_kwh"]]
    raised = [f for f in answers["fault history"] if f["code"] == "STORE_WRITE_FAILED"]
    assert len(raised) == 1 and raised[0]["connector"] is None and not raised[0]["active"]
