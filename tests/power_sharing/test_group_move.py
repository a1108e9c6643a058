"""The move sequence against the rig's matrix board and its model of groups, outputs and cars: a group leaves
a charging port and joins another without a contact switched under load (the simulator counts them)."""
from __future__ import annotations

import pytest

from controller.power_sharing.group_move import MAX_ABANDONS, STEADY_SAMPLES, MoveTiming, Step
from hil.sim.shared_outputs import SimCar
from tests.power_sharing.move_rig import MoveRig

pytestmark = pytest.mark.timeout(30)

TWO_GROUPS_AT_780_V_A = 2 * 90_000.0 / 780.0  # what G1 and G2 carry at car 1's voltage


def charging_rig(**car1) -> MoveRig:
    rig = MoveRig({"G1": 1, "G2": 1, "G3": 1, "G4": 2})
    rig.plug(1, SimCar(battery_v=780.0, request_a=300.0, **car1), limit_a=340.0)
    rig.plug(2, SimCar(battery_v=400.0, request_a=400.0), limit_a=225.0)
    return rig


def test_a_group_moves_between_two_charging_ports_without_switching_under_load():
    rig = charging_rig()
    assert rig.plant.port_current_a(1) == pytest.approx(300.0, abs=1.0)
    move = rig.start_move("G3", 1, 2, donor_limit_a=TWO_GROUPS_AT_780_V_A, receiver_limit_a=400.0)
    rig.run_until_finished()
    assert move.step_now is Step.DONE, move.reason
    assert [step for _, step in move.history] == [Step.LOWER_DONOR, Step.WAIT_DONOR, Step.RAMP_DOWN, Step.OPEN,
                                                   Step.MATCH, Step.CLOSE, Step.DONE]
    assert rig.matrix.closed_output("G3") == 2 and rig.board.connected_output(2) == 2
    assert rig.board.under_load_count == 0 and len(rig.moved_contacts()) == 2
    rig.run(1.0)
    assert rig.plant.port_current_a(2) == pytest.approx(400.0, abs=1.0)  # the receiver's car got the group's power
    assert rig.plant.port_current_a(1) <= TWO_GROUPS_AT_780_V_A + 1.0
    assert rig.faults == []


def test_the_group_opens_only_after_the_donor_car_followed_and_the_group_current_fell_below_one_ampere():
    rig = charging_rig(follow_delay_s=0.5)
    move = rig.start_move("G3", 1, 2, donor_limit_a=TWO_GROUPS_AT_780_V_A, receiver_limit_a=400.0)
    rig.run(0.4)
    assert move.step_now is Step.WAIT_DONOR and rig.matrix.commanded("G3") == 1
    rig.run_until_finished()
    opened = rig.moved_contacts()[0]
    assert not opened.closed and abs(opened.current_a) < 1.0
    closed = rig.moved_contacts()[1]
    assert closed.closed and abs(closed.voltage_v) < 20.0


def test_a_car_that_does_not_follow_the_lowered_limit_is_stopped_never_overloaded():
    rig = charging_rig(follows=False)
    move = rig.start_move("G3", 1, 2, donor_limit_a=TWO_GROUPS_AT_780_V_A, receiver_limit_a=400.0,
                          timing=MoveTiming(car_follow_s=0.5))
    rig.run(0.45)
    assert rig.plant.outputs[1].stops == [] and rig.plant.port_current_a(1) == pytest.approx(300.0, abs=1.0)
    rig.run(0.1)
    assert [code for code, _ in rig.plant.outputs[1].stops] == ["EV_LIMIT_NOT_FOLLOWED"]
    rig.run_until_finished()
    assert move.step_now is Step.DONE and move.donor_stopped
    assert rig.board.under_load_count == 0
    # while the car disobeyed, the three groups carried it: no group beyond its rating
    assert all(g.current_a <= g.max_current_a + 1e-6 for g in rig.plant.groups)


def test_a_group_that_does_not_come_down_keeps_its_contact_closed():
    rig = charging_rig()
    move = rig.start_move("G3", 1, 2, donor_limit_a=TWO_GROUPS_AT_780_V_A, receiver_limit_a=400.0,
                          timing=MoveTiming(ramp_down_s=0.3))
    rig.plant.group_slew_a_per_s = 10.0  # the group's modules ignore the lower setpoint (too slow)
    rig.run_until_finished()
    assert move.step_now is Step.FAILED and "still carries" in move.reason
    assert rig.matrix.commanded("G3") == 1 and rig.board.connected_output(2) == 1
    assert rig.board.under_load_count == 0


def test_a_welded_contact_fails_the_move_and_the_group_never_reaches_the_other_output():
    rig = charging_rig()
    rig.board.welded.add(2)  # G3
    move = rig.start_move("G3", 1, 2, donor_limit_a=TWO_GROUPS_AT_780_V_A, receiver_limit_a=400.0)
    rig.run_until_finished()
    assert move.step_now is Step.FAILED and "did not open" in move.reason
    assert rig.board.connected_output(2) == 1 and rig.board.under_load_count == 0


def test_an_idle_group_joins_a_charging_port_at_its_voltage():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    rig.run_until_finished()
    assert move.step_now is Step.DONE and [s for _, s in move.history][0] is Step.MATCH
    rig.run(1.0)
    assert rig.plant.port_current_a(1) == pytest.approx(250.0, abs=1.0) and rig.board.under_load_count == 0


def test_a_freed_group_is_switched_off_after_it_opened():
    rig = charging_rig()
    move = rig.start_move("G3", 1, None, donor_limit_a=TWO_GROUPS_AT_780_V_A)
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.matrix.closed_output("G3") is None
    rig.run(0.5)
    assert rig.plant.group_voltage_v("G3") == 0.0 and rig.board.under_load_count == 0


def test_switching_without_the_sequence_is_counted_by_the_simulator():
    """The control experiment: the same move done naively (open at once, close at once) arcs and inrushes."""
    rig = charging_rig()
    rig.matrix.open("G3")
    rig.run(0.3)  # the freed group's output falls to 0 V
    rig.matrix.connect("G3", 2)
    rig.run(0.1)
    assert rig.board.under_load_count == 2


def test_a_group_does_not_close_onto_an_output_whose_plant_says_it_may_not_receive():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    receiving = {1: False}  # the receiver's session is ending: its bus may drop while the contact closes
    rig.plant.may_receive = receiving.__getitem__
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    rig.run(0.5)
    assert move.step_now is Step.MATCH and rig.matrix.commanded("G2") is None
    receiving[1] = True
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0


def test_a_closing_contact_holds_the_matched_voltage_when_the_receivers_session_ends_meanwhile():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    receiving = {1: True}
    rig.plant.may_receive = receiving.__getitem__
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    for _ in range(500):
        rig.run(0.01)
        if move.step_now is Step.CLOSE:
            break
    assert move.step_now is Step.CLOSE
    matched = rig.plant.groups[1].set_voltage_v
    receiving[1] = False  # the session ends: its contactors open, its voltage reads 0
    real_voltage = rig.plant.port_voltage_v
    rig.plant.port_voltage_v = lambda output: 0.0
    move.step()
    assert rig.plant.groups[1].set_voltage_v == matched > 600.0  # not followed down to 0 V
    rig.plant.port_voltage_v = real_voltage
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0


def test_a_group_does_not_close_onto_an_output_whose_voltage_is_moving():
    """A bus that moves now (its current ramping, its car's contactor opening) will likely still move while
    the contact travels: the close waits until the receiver's voltage has held for steady_s."""
    rig = MoveRig({"G1": 1})
    car = SimCar(battery_v=650.0, request_a=250.0)
    rig.plug(1, car, limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    for step in range(40):  # 0.4 s of a battery voltage stepping by 6 V every 10 ms (matched within 10 V)
        car.battery_v = 650.0 + 6.0 * (step % 2)
        rig.run(0.01)
        assert rig.matrix.commanded("G2") is None, f"closed onto a moving bus at step {step}"
    assert move.step_now is Step.MATCH
    car.battery_v = 650.0
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0


def test_the_plant_knows_a_contact_is_closing_onto_its_receiver_exactly_while_it_travels():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    seen: list[tuple[Step, int | None]] = []
    rig.every_tick.append(lambda: seen.append((move.step_now, rig.plant.groups[1].closing_onto)))
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.plant.groups[1].closing_onto is None
    assert all(onto == 1 for step, onto in seen if step is Step.CLOSE)
    assert all(onto is None for step, onto in seen if step is Step.MATCH)
    assert (Step.CLOSE, 1) in seen  # a stop of output 1 meanwhile waits for it (power_down.py)


def test_a_contact_that_does_not_close_no_longer_counts_as_closing_once_the_move_failed():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    rig.board.contact_delay_s = 10.0  # the contact never arrives within the move's bound
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    rig.run_until_finished()
    assert move.step_now is Step.FAILED and "did not close" in move.reason
    assert rig.plant.groups[1].closing_onto is None


def test_a_move_failing_before_its_contact_closed_switches_the_group_off():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    rig.plant.group_slew_v_per_s = 10.0  # the group cannot reach the receiver's voltage within match_s
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    rig.run_until_finished()
    assert move.step_now is Step.FAILED and "did not reach" in move.reason
    group = rig.plant.groups[1]
    assert not group.driven_by_move and group.set_voltage_v == 0.0 and rig.matrix.closed_output("G2") is None


def test_a_contact_that_never_closes_leaves_its_group_off():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    rig.board.contact_delay_s = 10.0
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    rig.run_until_finished()
    assert move.step_now is Step.FAILED
    assert not rig.plant.groups[1].driven_by_move and rig.plant.groups[1].set_voltage_v == 0.0


def _until_close(rig: MoveRig, move) -> None:
    for _ in range(500):
        rig.run(0.01)
        if move.step_now is Step.CLOSE:
            return
    raise AssertionError(f"no close decided: {move.step_now}")


def test_a_close_is_abandoned_before_the_contact_lands_when_the_groups_voltage_sags_after_the_command():
    """Issue #18: judged once, a close landed across whatever happened during the contact's travel. Every step
    until the feedback shows it closed, fresh readings must still show the group within the window."""
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    _until_close(rig, move)
    group = rig.plant.groups[1]
    slew = rig.plant.group_slew_v_per_s
    rig.plant.group_slew_v_per_s = 0.0  # its modules stop holding: the voltage stays where it sagged to
    group.voltage_v -= 40.0
    rig.run(0.01)
    assert rig.matrix.commanded("G2") is None and move.step_now is Step.ABANDON
    rig.run(0.1)
    assert rig.board.connected_output(1) == 0 and rig.board.under_load_count == 0  # it never landed
    assert rig.plant.groups[1].closing_onto == 1  # until its bound passed, the contact may still be travelling
    rig.plant.group_slew_v_per_s = slew  # holding again: matched, closed on a second try
    rig.run_until_finished()
    assert move.step_now is Step.DONE and move.abandons == 1
    assert [s for _, s in move.history].count(Step.CLOSE) == 2
    assert rig.board.under_load_count == 0 and rig.plant.groups[1].closing_onto is None


def test_a_close_is_abandoned_when_the_receivers_voltage_moves_during_the_travel():
    rig = MoveRig({"G1": 1})
    car = SimCar(battery_v=650.0, request_a=250.0)
    rig.plug(1, car, limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    _until_close(rig, move)
    car.battery_v += 15.0  # within the window, but a bus that moves now may go on moving under the contact
    rig.run(0.01)
    assert rig.matrix.commanded("G2") is None and move.step_now is Step.ABANDON
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0


def test_a_group_that_cannot_be_shown_within_the_window_fails_after_a_few_abandoned_closes():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    readings = iter([])

    def sagging(group):  # matched at every MATCH, 40 V low at the first step of every CLOSE
        if move.step_now is Step.CLOSE:
            return next(readings, rig.plant.groups[1].voltage_v - 40.0)
        return rig.plant.groups[1].voltage_v
    rig.plant.group_voltage_v = sagging
    rig.run_until_finished()
    assert move.step_now is Step.FAILED and f"{MAX_ABANDONS} closes" in move.reason
    assert rig.board.under_load_count == 0 and rig.matrix.closed_output("G2") is None
    assert not rig.plant.groups[1].driven_by_move and rig.plant.groups[1].closing_onto is None


def test_one_receiver_sample_before_a_stall_and_one_after_do_not_make_it_steady():
    """After a stall of the control loop two samples span more than steady_s: that shows nothing about the bus
    during the stall. A close waits for STEADY_SAMPLES samples in the band, each within steady_s of the last."""
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)

    def physics(seconds):
        for _ in range(round(seconds / 0.01)):
            rig.clock.advance(0.01)
            rig.board.tick()
            rig.plant.tick(0.01)
    move.step()
    physics(0.3)  # the controller stalled; the group reached the receiver's voltage meanwhile
    assert abs(rig.plant.groups[1].voltage_v - rig.plant.port_voltage_v(1)) < 1.0
    move.step()
    assert move.step_now is Step.MATCH and rig.matrix.commanded("G2") is None
    decided = []
    for _ in range(STEADY_SAMPLES - 1):  # samples again, about the control period apart: steady_s later, a close
        physics(0.06)
        move.step()
        decided.append(rig.matrix.commanded("G2"))
    assert decided == [None, 1]
    physics(0.05)
    move.step()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0


def test_a_stall_before_the_contacts_feedback_was_read_does_not_fail_the_close():
    """The contact's bound is judged by a status received after it, not by the clock alone: after a stall of the
    control loop the move steps before the board's status that shows the contact landed has been read."""
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    _until_close(rig, move)
    rig.clock.advance(0.3)  # stalled: no status read since the close was commanded
    move.step()
    assert move.step_now is Step.CLOSE and rig.matrix.commanded("G2") == 1
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0


def test_an_abandoned_close_is_matched_again_only_once_a_status_after_the_contacts_bound_shows_it_open():
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    _until_close(rig, move)
    rig.plant.groups[1].voltage_v -= 40.0
    rig.plant.group_slew_v_per_s = 0.0
    move.step()
    assert move.step_now is Step.ABANDON
    rig.clock.advance(0.5)  # stalled: the board's status since the open command not read yet
    move.step()
    assert move.step_now is Step.ABANDON
    rig.run(0.03)
    assert move.step_now is Step.MATCH and rig.board.under_load_count == 0


def test_statuses_queued_during_a_stall_and_read_after_the_contacts_bound_do_not_fail_the_close():
    """Issue #18: after a stall the receive queue holds the board's statuses of the contact's travel. Read in
    batches after the bound, the first ones (still open: the contact had not landed when they were sent) counted
    as feedback received after the bound: the close failed and the contact was commanded open again. Their
    CounterEcho shows they follow the close command only, sent before the bound."""
    rig = MoveRig({"G1": 1})
    rig.plug(1, SimCar(battery_v=650.0, request_a=250.0), limit_a=138.0)
    rig.board.contact_delay_s = 0.1  # a slow contactor, still within the move's bound (0.2 s)
    move = rig.start_move("G2", None, 1, receiver_limit_a=276.0)
    _until_close(rig, move)
    rig.board.port.hold()  # the controller's process stalls; the board and the plant go on
    for _ in range(30):
        rig.clock.advance(0.01)
        rig.board.tick()
        rig.plant.tick(0.01)
    rig.board.port.release(3)  # the first batch read after the stall: sent before the contact landed
    move.step()
    assert move.step_now is Step.CLOSE and rig.matrix.commanded("G2") == 1, move.reason
    rig.board.port.release()
    rig.run_until_finished()
    assert move.step_now is Step.DONE and rig.board.under_load_count == 0
    assert rig.faults == []  # nor a MATRIX_CONTACT_MISMATCH from the driver
