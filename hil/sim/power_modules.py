"""What every power module simulator shares; one simulator per vendor lives in hil/sim/power_vendors/.

The simulators speak the wire protocol from the shared DBC files and keep nothing of their own: set and on/off
commands go into each `ModuleModel`, reads are answered from it (the plant computes voltages and currents). Fault
injection comes from the model: `overtemperature` and `overvoltage` show as status flags, and a `silent` module
neither hears nor answers, so its own communication timeout switches it off like a module with a dead bus.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from cantools.database.can import Message

from hil.plant import ModuleModel
from hil.wires.can import RigCanBus


def encode(message: Message, values: dict[str, Any]) -> bytes:
    """DBC encode; signals not given (reserved, other multiplexer branches) are 0."""
    muxes = {s.name: values.get(s.name, 0) for s in message.signals if s.is_multiplexer}
    full = dict(values)
    for s in message.signals:
        if s.name not in full and (s.multiplexer_ids is None or muxes.get(s.multiplexer_signal) in s.multiplexer_ids):
            full[s.name] = 0
    return bytes(message.encode(full, strict=True))


def clamp(value: float, signal_owner: Message, name: str) -> float:
    """Keep a physical value inside the DBC range so an extreme plant state still encodes."""
    s = signal_owner.get_signal_by_name(name)
    return min(max(value, s.minimum), s.maximum)


class ModuleSims:
    """What every vendor's modules do alike: the 10 s communication timeout.

    A vendor's simulator declares `keys` (the same vendor keys as the controller's driver) and `dbc`.
    """

    keys: tuple[str, ...]
    dbc: str

    def __init__(self, port: RigCanBus, models: list[ModuleModel], clock: Callable[[], float] = time.monotonic,
                 check_period_s: float = 0.1):
        self.port = port
        self.models = list(models)
        self.clock = clock
        self.check_period_s = check_period_s

    async def run(self) -> None:
        """Switch off every module whose controller has been silent for longer than its timeout."""
        while True:
            now = self.clock()
            for model in self.models:
                if model.on and now - model.last_command_t > model.comm_timeout_s:
                    model.on = False
            await asyncio.sleep(self.check_period_s)
