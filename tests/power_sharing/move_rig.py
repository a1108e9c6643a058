"""A cabinet for move tests: the matrix driver and the rig's matrix board over an in-memory link, the rig's
model of groups, outputs and cars, one test clock, ticked in a fixed order."""
from __future__ import annotations

from controller.hw.power.matrix import PowerMatrix
from controller.power_sharing.group_move import GroupMove, MoveTiming
from hil.sim.power_matrix import PowerMatrixSim
from hil.sim.shared_outputs import SharedOutputs, SimCar, SimGroup, SimOutput
from tests.fakes.clock import FakeClock
from tests.power_sharing.loopback import loopback_pair

GROUPS = ("G1", "G2", "G3", "G4")
OUTPUTS = (1, 2)
TICK_S = 0.01


class MoveRig:
    def __init__(self, placement: dict[str, int], groups: tuple[str, ...] = GROUPS,
                 outputs: tuple[int, ...] = OUTPUTS) -> None:
        self.clock = FakeClock()
        self.plant = SharedOutputs([SimGroup(name) for name in groups], [SimOutput(o) for o in outputs],
                                   clock=self.clock)
        controller_end, board_end = loopback_pair()
        self.board = PowerMatrixSim(board_end, self.plant, len(groups), contact_delay_s=0.03, clock=self.clock)
        self.board.attach()
        self.plant.contacts = self.board.connected_output
        self.faults: list[tuple[str, bool]] = []
        self.matrix = PowerMatrix(controller_end, groups, {g: outputs for g in groups}, clock=self.clock,
                                  on_fault=lambda code, detail, active: self.faults.append((code, active)))
        self.matrix.attach()
        self.move: GroupMove | None = None
        self.every_tick: list = []  # called after the plant's step, in order (a coordinator, a recorder)
        for group, output in placement.items():  # contacts closed before any car is on: nothing across them
            self.matrix.connect(group, output)
        self.run(0.1)
        self._setup_switchings = len(self.board.switchings)

    def moved_contacts(self):
        """The contacts that opened or closed since the setup (with what they carried)."""
        return self.board.switchings[self._setup_switchings:]

    def plug(self, output: int, car: SimCar, limit_a: float) -> None:
        self.plant.outputs[output].car = car
        car.limit_a = car.obeyed_limit_a = limit_a
        self.run(1.0)  # charging settles

    def start_move(self, group: str, donor: int | None, receiver: int | None, **kwargs) -> GroupMove:
        timing = kwargs.pop("timing", MoveTiming())
        self.move = GroupMove(group, donor, receiver, self.plant, self.matrix, timing=timing, clock=self.clock,
                              **kwargs)
        return self.move

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / TICK_S)):
            self.clock.advance(TICK_S)
            self.board.tick()
            self.plant.tick(TICK_S)
            self.matrix.tick()  # its loop: a command every period (echoed: the feedback's age), the checks
            if self.move is not None:
                self.move.step()
            for call in self.every_tick:
                call()

    def run_until_finished(self, bound_s: float = 10.0) -> None:
        for _ in range(round(bound_s / TICK_S)):
            self.run(TICK_S)
            if self.move.finished:
                return
        raise AssertionError(f"move not finished after {bound_s} s: {self.move.step_now}")
