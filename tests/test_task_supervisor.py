"""Task supervision (issue 13 finding 5): the I/O board heartbeat proves the control loop, the module groups and
the Modbus polls alive, not only the event loop. Unit tests on a fake clock, then the whole app on the desk rig:
a dead control task or a stuck module group stops the heartbeat and the board simulator trips by itself."""
from __future__ import annotations

import asyncio
import types

import pytest

import controller.hw.power.group as group_module
from controller.app import ControllerApp
from controller.formats.cabinet.config import load_config
from controller.task_supervisor import TaskSupervisor
from hil.rig import Rig
from hil.setup import cabinet_path, load_setup, private_can
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.timeout(30)


def _supervisor():
    clock = FakeClock(10.0)
    failures: list[str] = []
    return TaskSupervisor(failures.append, clock=clock), clock, failures


def _run_for(sup: TaskSupervisor, clock: FakeClock, seconds: float, step: float = 0.05, check_in=None) -> None:
    for _ in range(round(seconds / step)):
        clock.now += step
        if check_in is not None:
            check_in()
        sup.evaluate()


def test_a_task_that_stops_checking_in_holds_the_heartbeat_after_its_bound():
    sup, clock, failures = _supervisor()
    control = sup.register("control", 0.3)
    modules = sup.register("modules-1", 1.0)
    _run_for(sup, clock, 2.0, check_in=lambda: (control(), modules()))
    assert sup.heartbeat_allowed() and failures == []
    _run_for(sup, clock, 0.2, check_in=modules)  # control stuck (judged at the evaluations, 50 ms apart here)
    assert sup.heartbeat_allowed()
    _run_for(sup, clock, 0.15, check_in=modules)
    assert not sup.heartbeat_allowed()
    assert len(failures) == 1 and "task control made no progress" in failures[0]
    _run_for(sup, clock, 1.0, check_in=modules)
    assert len(failures) == 1  # reported once per episode
    control()
    sup.evaluate()
    assert sup.heartbeat_allowed()  # progress again releases the heartbeat (the fault stays latched elsewhere)


def test_a_stalled_process_is_not_a_stuck_task():
    """Five seconds without any turn of the loop (CPU starvation, a GC pause): every task gets its turn
    before any is judged."""
    sup, clock, failures = _supervisor()
    control = sup.register("control", 0.3)
    sup.evaluate()
    clock.now += 5.0
    sup.evaluate()
    assert sup.heartbeat_allowed()
    control()
    _run_for(sup, clock, 0.25, check_in=control)
    assert failures == []


def test_asking_for_the_heartbeat_does_not_judge():
    """A slow turn of the loop asks once per board and setter; only the supervisor's own periodic evaluation
    judges, so those questions, seconds apart in wall time, add up to no verdict."""
    sup, clock, failures = _supervisor()
    sup.register("control", 0.3)
    for _ in range(10):
        clock.now += 0.1
        assert sup.heartbeat_allowed()
    assert failures == []


def test_the_failure_reaction_runs_with_the_heartbeat_still_allowed():
    """The connectors' power-off commands must reach the board before the heartbeat is held."""
    seen: list[bool] = []
    clock = FakeClock(10.0)
    sup = TaskSupervisor(lambda reason: seen.append(sup.heartbeat_allowed()), clock=clock)
    sup.register("control", 0.1)
    _run_for(sup, clock, 0.2)
    assert seen == [True] and sup.held and not sup.heartbeat_allowed()


def test_a_failure_reaction_that_raises_still_holds_the_heartbeat():
    clock = FakeClock(10.0)

    def boom(reason):
        raise RuntimeError("connector bug")
    sup = TaskSupervisor(boom, clock=clock)
    sup.register("control", 0.1)
    _run_for(sup, clock, 0.2)
    assert not sup.heartbeat_allowed()


def test_a_dead_task_fails_at_once_and_for_good():
    sup, clock, failures = _supervisor()
    check_in = sup.register("modules-1", 1.0)

    async def dies():
        raise KeyError("bug")

    async def main():
        task = asyncio.create_task(dies())
        sup.watch(task, "modules-1")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    asyncio.run(main())
    assert failures == ["task modules-1 died: KeyError: 'bug'"]
    check_in()
    sup.evaluate()
    assert not sup.heartbeat_allowed()


def test_tasks_ending_while_the_app_stops_are_no_failure():
    sup, clock, failures = _supervisor()
    sup.register("control", 1.0)

    async def main():
        task = asyncio.create_task(asyncio.sleep(10))
        sup.watch(task, "control")
        await asyncio.sleep(0)
        sup.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    asyncio.run(main())
    assert failures == [] and sup.heartbeat_allowed()


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_bounds_must_be_positive(bad):
    sup, _, _ = _supervisor()
    with pytest.raises(ValueError):
        sup.register("x", bad)
    with pytest.raises(ValueError):
        TaskSupervisor(lambda r: None, max_step_s=bad)


# ---- the whole controller on the desk rig ------------------------------------------------------------------

async def _desk():
    setup = load_setup("desk")
    can = private_can(setup)
    rig = Rig(setup, can)
    await rig.start()
    config = load_config(cabinet_path(setup.name), tuple(rig.config_overrides()))
    app = ControllerApp(config, can_override=can)
    await app.start()
    cid = app.connectors[0].cfg.id
    board, sim = app.boards[cid], rig.io_sims[cid]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not (board.online and sim.heartbeat_echo and app.connectors[0].state == "available"):
        assert loop.time() < deadline, "the desk rig never became available"
        await asyncio.sleep(0.02)
    return rig, app, board, sim


async def _until(condition, timeout_s: float) -> float | None:
    """Seconds until condition() held, or None after timeout_s."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        if loop.time() - start > timeout_s:
            return None
        await asyncio.sleep(0.01)
    return loop.time() - start


def _task(app: ControllerApp, name: str) -> asyncio.Task:
    return next(t for t in app._tasks if t.get_name() == name)


@pytest.mark.parametrize("how", ["control dies", "module group stuck"])
def test_a_dead_or_stuck_task_stops_the_heartbeat_and_the_board_trips(how, monkeypatch):
    async def stuck_sleep(_seconds):  # the module group's next await never returns; the loop runs on
        await asyncio.Event().wait()

    async def main():
        rig, app, board, sim = await _desk()
        try:
            if how == "control dies":
                _task(app, "control").cancel()
            else:
                monkeypatch.setattr(group_module, "asyncio", types.SimpleNamespace(sleep=stuck_sleep))
            stopped = await _until(lambda: app.supervisor.held, 5.0)
            assert stopped is not None, "the heartbeat was never held"
            assert stopped < 1.6  # the group's bound is 1 s, the control tick's 0.3 s
            held_at = board.heartbeat_counter
            tripped = await _until(lambda: sim.watchdog_tripped, 2.0)
            assert tripped is not None and tripped < 0.8  # 300 ms watchdog plus scheduling
            assert sim.trip_cause == "HEARTBEAT_LOST" and sim.cp_state == "F"
            assert board.heartbeat_counter == held_at  # not one command since: setters included
            assert "CONTROLLER_INTERNAL" in app.connectors[0].active_faults
            expected = "control was cancelled" if how == "control dies" else "modules-1 made no progress"
            assert expected in app.supervisor.failures[0]
        finally:
            await app.crash()
            await rig.stop()
    asyncio.run(main())
