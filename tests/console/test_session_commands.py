"""authorize, start, stop and status with the rig's car: the console lets a waiting car go ahead and
stops a charging one; sessions are listed from the store with their stop reason."""
from __future__ import annotations

import asyncio

import pytest

from hil.ev.car import CarPlan
from tests.console.harness import TECH_PIN, ask, ask_json, cabinet, connect, until

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


async def plug_in_a_car(cab) -> asyncio.Task:
    car = cab.rig.new_car(1, cab.v2g.car_link(1))
    return asyncio.create_task(car.run(CarPlan(target_soc=99.0, request_period_s=0.05)))


def test_authorize_start_and_stop_a_session_from_the_console(tmp_path):
    async def scenario():
        async with cabinet(tmp_path, store=True, charging={"auto_authorize": False}) as cab:
            client = await connect(cab.path)
            answers = {}
            try:
                answers["login"] = await ask(client, f"login {TECH_PIN}")
                outcomes = []
                for command in ("authorize", "start 1"):
                    car = await plug_in_a_car(cab)
                    await until(lambda: cab.connector.state == "authorizing", "the car waiting for authorization")
                    answers[f"selftest with {command}"] = await ask(client, "selftest")
                    answers[command] = await ask(client, command)
                    await until(lambda: cab.connector.state == "charging" and cab.connector.group.output_current_a > 5,
                                "charging")
                    # some energy first: the meter counts in steps of 10 Wh
                    await until(lambda: cab.connector.session.energy_wh > 30.0, "30 Wh delivered")
                    answers[f"status during {command}"] = await ask_json(client, "json status")
                    answers[f"start while charging {command}"] = await ask(client, "start")
                    answers[f"stop after {command}"] = await ask(client, "stop")
                    outcomes.append(await asyncio.wait_for(car, 30))
                    await until(lambda: cab.connector.state == "available", "the car gone")
                await asyncio.to_thread(cab.app.store.flush)
                answers["sessions"] = await ask_json(client, "json sessions")
                answers["sessions text"] = await ask(client, "sessions")
                return answers, outcomes
            finally:
                client.close()

    answers, outcomes = asyncio.run(scenario())
    for command in ("authorize", "start 1"):
        assert answers[f"selftest with {command}"] == \
            "error: connector 1 is authorizing with CP B: the selftest needs no car connected"
        status = answers[f"status during {command}"]["data"]["connectors"][0]
        assert status["state"] == "charging" and status["current_a"] > 5 and status["power_kw"] > 1
        assert status["session"]["evcc_id"] and status["session_s"] > 0 and status["energy_kwh"] >= 0
        assert answers[f"start while charging {command}"] == "error: connector 1: a session is already in charging"
        assert answers[f"stop after {command}"].startswith("connector 1: stop requested")
    assert answers["authorize"] == "connector 1: authorized (authorizing)"
    assert answers["start 1"] == "connector 1: authorized; the session goes ahead as the car asks (authorizing)"
    assert [o.reason for o in outcomes] == ["evse_stop", "evse_stop"]
    sessions = answers["sessions"]["data"]["sessions"]
    assert [s["stop_reason"] for s in sessions] == ["console_stop", "console_stop"]
    assert all(s["energy_kwh"] > 0 and s["status"] != "running" for s in sessions)
    assert "console_stop" in answers["sessions text"]
