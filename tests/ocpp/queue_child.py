"""A station process for the kill -9 test: `python -m tests.ocpp.queue_child URL QUEUE_FILE charge|drain`.

charge: a car plugs in and charges, a TransactionEvent every 20 ms, until the process is killed.
drain: no car; the station only sends what the queue file still holds.
"""
from __future__ import annotations

import asyncio
import random
import sys

from controller.ocpp import OcppService
from controller.store.ocpp_queue import OcppQueue
from tests.ocpp.harness import STATION, FakeConnector, station_config


async def main(url: str, queue_file: str, mode: str) -> None:
    connector = FakeConnector(1)
    service = OcppService(station_config(url, meter_interval_s=0.02), STATION, [connector],
                          queue=OcppQueue(queue_file), rng=random.Random(1))
    connector.sink = service.on_event
    await service.start()
    if mode == "charge":
        for state in ("plugged", "negotiating", "authorizing", "parameter_discovery", "cable_check",
                      "precharge", "charging"):
            connector.move(state)
    await asyncio.sleep(60)  # the test kills or stops it long before


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
