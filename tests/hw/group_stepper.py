"""PowerModuleGroup.run() one telemetry slot at a time, on a fake clock, against the rig's module simulators.

The two CAN ports meet on a wire that holds every frame until the test delivers it, so a test sees the exact
frames of each slot and decides when the modules' answers arrive. run()'s sleeps are taken over: each step
runs run() up to its next sleep and says how long it asked to sleep; the clock moves only when the test moves
it. Nothing waits on real time and no event loop runs.
"""
from __future__ import annotations

import types
from collections import deque
from typing import Callable

import can

from controller.hw.can_port import CanPort
from controller.hw.power import PowerModuleGroup
from controller.hw.power import group as group_module
from hil.plant import ModuleModel
from hil.sim.power_vendors import SIMULATORS
from tests.fakes.clock import FakeClock


# InfyPower commands (bits 21-16 of the identifier, the same in a request and its answer)
ON_OFF, SET_OUTPUT, READ_OUTPUT, READ_STATUS = 0x1A, 0x1C, 0x03, 0x04


def infy(msg: can.Message) -> tuple[int, int]:
    """(command, module address) of an InfyPower frame the controller sent (the command also of an answer)."""
    return (msg.arbitration_id >> 16) & 0x3F, (msg.arbitration_id >> 8) & 0xFF


class _HeldBus:
    """The part of a python-can bus a CanPort sends through: frames go onto the shared wire."""

    def __init__(self, wire: "HeldWire", side: str):
        self._wire, self._side = wire, side

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        self._wire.held.append((self._side, msg))
        if self._side == "controller":
            self._wire.from_controller.append(msg)


class HeldWire:
    """Two CanPorts ("controller", "rig"); frames sent by one reach the other only on deliver()."""

    def __init__(self):
        self.held: deque[tuple[str, can.Message]] = deque()
        self.ports = {side: CanPort(_HeldBus(self, side), side) for side in ("controller", "rig")}
        self.from_controller: list[can.Message] = []  # everything the controller sent, in order
        # what the modules' answers turn into on their way (a flag the simulator never sets); None: unchanged
        self.rewrite_answer: Callable[[can.Message], can.Message] | None = None

    def deliver(self, hold: Callable[[can.Message], bool] | None = None, limit: int = 10_000) -> None:
        """Hand over every held frame, and the answers they cause, until the wire is quiet; module answers for
        which `hold(msg)` is true stay on the wire (late frames, delivered by a later call)."""
        kept: deque[tuple[str, can.Message]] = deque()
        for _ in range(limit):
            if not self.held:
                self.held = kept
                return
            side, msg = self.held.popleft()
            if side == "rig" and self.rewrite_answer is not None:
                msg = self.rewrite_answer(msg)
            if side == "rig" and hold is not None and hold(msg):
                kept.append((side, msg))
                continue
            self.ports["rig" if side == "controller" else "controller"].dispatch(msg)
        raise AssertionError("the wire never went quiet")

    def answers(self) -> list[can.Message]:
        """The modules' answers to what the controller sent, taken off the wire undelivered (for a test that
        hands them over as one received batch)."""
        self.deliver(hold=lambda msg: True)
        taken = [msg for _, msg in self.held]
        self.held.clear()
        return taken

    def drop(self) -> None:
        """Take the held frames off the wire unseen by the other side (a dead bus)."""
        self.held.clear()


@types.coroutine
def _yield_slot(seconds: float):
    yield seconds


class SteppedGroup:
    """A group of `vendor` modules at `addresses` whose run() advances one slot per step()."""

    def __init__(self, monkeypatch, vendor: str, addresses: list[int], start_s: float = 1000.0, **timing: float):
        """`timing`: the group's keepalive_s, telemetry_period_s, silent_after_s (its own defaults otherwise)."""
        monkeypatch.setattr(group_module, "asyncio", types.SimpleNamespace(sleep=_yield_slot))
        self.clock = FakeClock(start_s)
        self.wire = HeldWire()
        self.faults: list[tuple[str, str, bool]] = []
        self.models = [ModuleModel(address=a) for a in addresses]
        self.group = PowerModuleGroup(self.wire.ports["controller"], vendor, addresses, 1, clock=self.clock,
                                      **timing,
                                      on_fault=lambda code, detail, active: self.faults.append((code, detail, active)))
        self.sim = SIMULATORS[vendor](self.wire.ports["rig"], self.models, clock=self.clock)
        self.group.attach()
        self.sim.attach()
        self._run = None
        self.slept: list[float] = []

    def step(self) -> float:
        """Run the group up to its next sleep (one module's slot); return the sleep it asked for."""
        if self._run is None:
            self._run = self.group.run()
        seconds = self._run.send(None)
        self.slept.append(seconds)
        return seconds

    def slot(self, *, answer: bool = True) -> list[can.Message]:
        """One slot followed by the modules' answers (or a dead bus), then the slot's time; the frames the
        controller sent in the slot itself, before any answer."""
        mark = len(self.wire.from_controller)
        seconds = self.step()
        sent = self.wire.from_controller[mark:]
        if answer:
            self.wire.deliver()
        else:
            self.wire.drop()
        self.clock.advance(seconds)
        return sent

    def slots(self, count: int, *, answer: bool = True) -> None:
        for _ in range(count):
            self.slot(answer=answer)

    def close(self) -> None:
        if self._run is not None:
            self._run.close()
