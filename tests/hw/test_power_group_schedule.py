"""What PowerModuleGroup.run() puts on the bus slot by slot, and when it gives a silent module up, on a fake clock
(tests/hw/group_stepper.py): each module's own poll slot, the keep-alive cadence, the slow temperature read,
a module lost exactly at its bounds (silence and unanswered polls), readings judged by when they came, the
power of derating modules, a new setpoint shared at once, fault answers first in a received batch, and a module's
error code named in the rejection. Issue 19: these kill mutants of controller/hw/power/group.py that survived
every other test. Times are dyadic so that "exactly at the bound" is exact."""
from __future__ import annotations

import can
import pytest

from controller.formats.can.dbc import load_dbc
from controller.hw.power.vendors import infypower, uugreen
from tests.hw.group_stepper import ON_OFF, READ_OUTPUT, READ_STATUS, SET_OUTPUT, SteppedGroup, infy

pytestmark = pytest.mark.timeout(20)

UU_FRAME = load_dbc(uugreen.DBC).get_message_by_name("UuFrame")


def uu_command(msg: can.Message) -> tuple[int, int]:
    values = UU_FRAME.decode(msg.data, decode_choices=False)
    return values["MessageType"], values["Command"]


def lost(g: SteppedGroup) -> list[tuple[str, bool]]:
    return [(detail.split(" silent")[0], active) for code, detail, active in g.faults if code == "MODULE_LOST"]


def test_each_module_is_polled_in_its_own_slot_of_the_telemetry_period(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2, 3, 4], telemetry_period_s=0.5)
    polled = [sorted({infy(m)[1] for m in g.slot() if infy(m)[0] in (READ_OUTPUT, READ_STATUS)})
              for _ in range(8)]
    assert polled == [[1], [2], [3], [4]] * 2
    assert g.slept == [0.125] * 8  # a quarter of the period each: a steady trickle, not a burst
    g.close()


def test_the_keep_alive_goes_out_once_per_keepalive_period_and_not_between(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5, keepalive_s=1.0)
    g.slots(4)  # ratings read, both modules in
    g.group.set_output(400.0, 20.0)
    g.group.switch_on()
    g.wire.deliver()
    kept_alive = []
    for loop in range(2, 10):  # loops start every 0.5 s; the keep-alive is due at 0 s, 1 s, 2 s, ...
        frames = g.slot() + g.slot()
        if any(infy(m)[0] == ON_OFF for m in frames):
            kept_alive.append(loop)
            assert sorted(infy(m) for m in frames if infy(m)[0] in (ON_OFF, SET_OUTPUT)) == sorted([
                (SET_OUTPUT, 1), (SET_OUTPUT, 2), (ON_OFF, 1), (ON_OFF, 2)])
    assert kept_alive == [2, 4, 6, 8]
    assert all(m.on and m.current_limit_a == 10.0 for m in g.models)
    g.close()


def test_the_temperature_is_read_in_the_first_period_and_every_fifth_after(monkeypatch):
    g = SteppedGroup(monkeypatch, "uugreen", [11, 12], telemetry_period_s=0.5)
    read = []
    for loop in range(12):
        frames = g.slot() + g.slot()
        if any(uu_command(m) == (uugreen.READ, uugreen.INLET_TEMPERATURE) for m in frames):
            read.append(loop)
    assert read == [0, 5, 10]
    assert g.group.hottest_module_c == 30.0
    g.close()


def test_a_module_never_heard_is_silent_from_the_start_of_run_not_from_construction(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5, silent_after_s=2.0)
    g.models[1].silent = True
    g.clock.advance(100.0)  # the group was built long before its task started
    for loop in range(4):  # 0 .. 1.5 s after run() started: not yet silent for 2 s
        g.slots(2)
        assert lost(g) == [], loop
    g.step()  # the next loop begins 2.0 s after run() started
    assert lost(g) == [("module 0x02", True)]
    g.close()


def test_a_module_is_lost_exactly_when_both_its_silence_and_its_unanswered_polls_reach_their_bounds(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5, silent_after_s=1.75)
    g.slots(4)  # module 2 last answers in loop 1, 0.75 s after the start
    g.models[1].silent = True
    for _ in range(6):  # loops 2, 3, 4: three unanswered polls; loop 5 begins 1.75 s after the last answer
        g.slots(1)
        assert lost(g) == []
    g.step()
    assert lost(g) == [("module 0x02", True)]
    assert g.group.capabilities.healthy_count == 1
    g.close()


def test_after_a_stalled_controller_a_module_is_lost_only_after_three_unanswered_polls(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5, silent_after_s=1.0)
    g.slots(4)
    g.models[1].silent = True
    g.clock.advance(100.0)  # no poll went out for 100 s: the silence alone says nothing
    for polls in range(3):
        g.slots(2)
        assert lost(g) == [], f"lost after {polls + 1} unanswered poll(s)"
    g.step()
    assert lost(g) == [("module 0x02", True)]  # module 1 answered every poll: still in
    g.close()


def test_readings_count_as_taken_after_t_only_when_both_voltage_and_current_came_later(monkeypatch):
    g = SteppedGroup(monkeypatch, "uugreen", [11, 12], telemetry_period_s=0.5)
    g.slots(4)

    def is_answer(command):
        return lambda msg: uu_command(msg) == (uugreen.READ_RESPONSE, command)

    for late in (uugreen.IOUT, uugreen.VOUT):  # one of the two readings of module 11 arrives 0.125 s later
        t = g.clock()
        g.step()
        g.wire.deliver(hold=is_answer(late))  # the other one is taken at t itself: not after t
        g.clock.advance(0.125)
        g.wire.deliver()
        g.clock.advance(0.125)
        g.slots(1)  # module 12, after t
        assert not g.group.measured_since(t), late
        g.slots(2)  # both modules again, both readings after t
        assert g.group.measured_since(t)
    t = g.clock()
    g.step()
    g.wire.deliver(hold=is_answer(uugreen.IOUT))
    g.wire.drop()  # module 11's current never comes
    g.clock.advance(0.25)
    g.slots(1)
    assert not g.group.measured_since(t)
    g.close()


def _power_limited(msg: can.Message) -> can.Message:
    status = load_dbc(infypower.DBC).get_message_by_name("InfyReadStatusAnswer")
    if msg.arbitration_id & ~0xFFFF != status.frame_id & ~0xFFFF:  # not a status answer (any addresses)
        return msg
    values = status.decode(msg.data, decode_choices=False)
    values["PowerLimited"] = 1
    return can.Message(arbitration_id=msg.arbitration_id, data=status.encode(values), is_extended_id=True)


def test_derating_modules_count_with_the_power_they_deliver_and_the_others_with_their_rating(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    g.wire.rewrite_answer = _power_limited
    g.slots(4)
    assert g.group.available_power_w() == 60_000.0  # off: the rating counts, whatever the flags
    g.group.set_output(400.0, 30.0)
    g.group.switch_on()
    for model, amps in zip(g.models, (10.0, 5.0)):
        model.output_voltage_v, model.output_current_a = 400.0, amps
    g.slots(2)
    assert g.group.available_power_w() == 6_000.0  # both limited: 4 kW + 2 kW, what they give
    for model in g.models:
        model.output_current_a = 0.0
    g.slots(2)
    assert g.group.available_power_w() == 0.0
    g.close()


def test_a_new_setpoint_is_shared_over_the_healthy_modules_at_once(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2, 3], telemetry_period_s=0.5)
    g.slots(3)
    g.group.set_output(400.0, 30.0)
    g.group.switch_on()
    g.wire.deliver()
    assert [m.current_limit_a for m in g.models] == [10.0, 10.0, 10.0]
    g.group.set_output(400.0, 60.0)  # no slot runs: the new limits go out in the call itself
    g.wire.deliver()
    assert [m.current_limit_a for m in g.models] == [20.0, 20.0, 20.0]
    g.close()


def test_a_status_answer_runs_before_the_voltage_answers_received_with_it(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    g.slots(6)  # loop 3 next: no keep-alive, only the polls
    seen: list[list[str]] = []
    g.group.listen_telemetry(lambda: seen.append([code for code, _, active in g.faults if active]))
    g.models[0].overvoltage = True
    g.step()  # module 1's slot: its output answer, then its status answer with the over-voltage flag
    batch = g.wire.answers()
    assert [infy(m)[0] for m in batch] == [READ_OUTPUT, READ_STATUS]
    g.wire.ports["controller"].dispatch_batch(batch)
    assert seen == [["MODULE_OVERVOLTAGE"]]  # the listener already sees the emergency
    g.close()


def test_an_answer_with_an_error_code_is_rejected_naming_the_module_and_command(monkeypatch):
    g = SteppedGroup(monkeypatch, "infypower", [1, 2], telemetry_period_s=0.5)
    g.slots(7)
    g.step()  # module 2's slot of loop 3: the polls only
    output_answer = g.wire.answers()[0]
    g.wire.ports["controller"].dispatch(can.Message(
        arbitration_id=output_answer.arbitration_id | (3 << 26), data=output_answer.data, is_extended_id=True))
    assert dict(g.wire.ports["controller"].counters.rejected_reasons) == {
        "InfyPower module 0x02 answered command 0x03 with error code 3": 1}
    g.close()
