"""Scheduled maintenance: `disable N maintenance` (and the selftest) book an outage NEVI excludes from the
uptime; a plain `disable` books an outage that counts."""
from __future__ import annotations

import asyncio

import pytest

from tests.console.harness import TECH_PIN, ask, cabinet, connect, until

pytestmark = pytest.mark.timeout(60)


def test_maintenance_outages_are_excluded_and_plain_ones_count(tmp_path):
    async def scenario():
        async with cabinet(tmp_path, store=True) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                answers = []
                for line in ("disable 1 maintenance", "enable 1", "disable 1", "enable 1"):
                    answers.append(await ask(client, line))
                    wanted = "unavailable" if line.startswith("disable") else "available"
                    await until(lambda: cab.connector.state == wanted, f"{line} acted")
                await asyncio.to_thread(cab.app.store.flush)
                return answers, cab.app.store.outages(1)
            finally:
                client.close()

    answers, outages = asyncio.run(scenario())
    assert answers[0] == ("connector 1: disabled, unavailable; scheduled maintenance: the outage is excluded from "
                          "the uptime")
    assert answers[2] == "connector 1: disabled, unavailable"
    booked = [(o["reason"], o["excluded"], o["end_t"] is not None) for o in outages]
    assert ("maintenance", True, True) in booked and ("unavailable", False, True) in booked, outages


def test_a_word_other_than_maintenance_is_refused(tmp_path):
    async def scenario():
        async with cabinet(tmp_path) as cab:
            client = await connect(cab.path)
            try:
                await ask(client, f"login {TECH_PIN}")
                return await ask(client, "disable 1 holiday"), cab.connector.enabled
            finally:
                client.close()

    answer, enabled = asyncio.run(scenario())
    assert answer.startswith("error:") and enabled is True
