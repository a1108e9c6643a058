"""The composite schedule: stacking, validity, kinds, and (hypothesis) never above any applicable limit,
piecewise constant, right at every boundary."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from controller.ocpp.smart_charging.composite import Limit, TxContext, composite, limit_at
from controller.ocpp.smart_charging.profiles import ChargingProfile, format_time

T0 = 1_800_000_000.0  # a whole-second instant (2027-01-15)
INF = float("inf")


def profile(pid, purpose, periods, *, evse=0, level=0, kind="Absolute", start=T0, unit="W", duration=None,
            valid_from=None, valid_to=None, tx=None, recurrency=None):
    schedule = {"id": pid, "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods]}
    if start is not None and kind != "Relative":
        schedule["startSchedule"] = format_time(start)
    if duration is not None:
        schedule["duration"] = duration
    data = {"id": pid, "stackLevel": level, "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
            "chargingSchedule": [schedule]}
    for key, value in (("validFrom", valid_from), ("validTo", valid_to)):
        if value is not None:
            data[key] = format_time(value)
    if tx:
        data["transactionId"] = tx
    if recurrency:
        data["recurrencyKind"] = recurrency
    return ChargingProfile.from_json(evse, data)


def test_higher_stack_level_wins_while_it_sets_a_limit_then_the_lower_one_applies():
    low = profile(1, "TxDefaultProfile", [(0, 50_000)], evse=1, level=0)
    high = profile(2, "TxDefaultProfile", [(0, 20_000)], evse=1, level=1, duration=60)
    periods = composite([low, high], 1, T0, 120, "W", tx=TxContext(), voltage_v=400, ceiling=INF)
    assert [(p.start_s, p.limit) for p in periods] == [(0, 20_000), (60, 50_000)]


def test_station_max_caps_the_tx_profile_and_the_tx_profile_beats_tx_default():
    station = profile(1, "ChargingStationMaxProfile", [(0, 100_000)])
    default = profile(2, "TxDefaultProfile", [(0, 30_000)], evse=0, level=5)
    tx = profile(3, "TxProfile", [(0, 150_000)], evse=2, kind="Relative", tx="T1")
    context = TxContext("T1", T0)
    assert limit_at([station, default, tx], 2, T0 + 1, "W", tx=context, voltage_v=400, ceiling=INF,
                    share=lambda s: s) == 100_000
    assert limit_at([station, default], 2, T0 + 1, "W", tx=context, voltage_v=400, ceiling=INF,
                    share=lambda s: s) == 30_000


def test_evse_specific_tx_default_wins_over_evse_0_at_the_same_level():
    everywhere = profile(1, "TxDefaultProfile", [(0, 40_000)], evse=0, level=2)
    mine = profile(2, "TxDefaultProfile", [(0, 60_000)], evse=3, level=2)
    assert limit_at([everywhere, mine], 3, T0, "W", tx=TxContext(), voltage_v=400, ceiling=INF,
                    share=lambda s: s) == 60_000


def test_amps_and_watts_meet_at_the_voltage():
    amps = profile(1, "TxDefaultProfile", [(0, 100)], evse=1, unit="A")
    assert limit_at([amps], 1, T0, "W", tx=TxContext(), voltage_v=500, ceiling=INF, share=lambda s: s) == 50_000
    watts = profile(2, "ChargingStationMaxProfile", [(0, 80_000)])
    assert limit_at([watts], 1, T0, "A", tx=TxContext(), voltage_v=400, ceiling=INF, share=lambda s: s) == 200


def test_validity_and_recurrence():
    later = profile(1, "ChargingStationMaxProfile", [(0, 10_000)], valid_from=T0 + 30, valid_to=T0 + 90)
    daily = profile(2, "ChargingStationMaxProfile", [(0, 50_000), (3600, 70_000)], kind="Recurring",
                    recurrency="Daily", start=T0 - 86_400 * 3, level=0, valid_from=None)
    periods = composite([later], 0, T0, 120, "W", tx=TxContext(), voltage_v=400, ceiling=INF)
    assert [(p.start_s, p.limit) for p in periods] == [(0, INF), (30, 10_000), (90, INF)]
    periods = composite([daily], 0, T0, 2 * 86_400, "W", tx=TxContext(), voltage_v=400, ceiling=INF)
    assert [(p.start_s, p.limit) for p in periods] == [(0, 50_000), (3600, 70_000), (86_400, 50_000),
                                                       (90_000, 70_000)]


def test_relative_profile_counts_from_the_transaction_start():
    relative = profile(1, "TxProfile", [(0, 20_000), (100, 60_000)], evse=1, kind="Relative", tx="T9")
    periods = composite([relative], 1, T0, 200, "W", tx=TxContext("T9", T0 - 40), voltage_v=400, ceiling=90_000)
    assert [(p.start_s, p.limit) for p in periods] == [(0, 20_000), (60, 60_000)]


# ---- properties ------------------------------------------------------------------------------------------
PURPOSES = ("ChargingStationMaxProfile", "TxDefaultProfile", "TxProfile")


@st.composite
def profile_sets(draw):
    found = []
    for pid in range(draw(st.integers(1, 5))):
        purpose = draw(st.sampled_from(PURPOSES))
        starts = sorted(draw(st.sets(st.integers(1, 500), max_size=4)))
        periods = [(s, draw(st.integers(0, 400)) * 500.0) for s in [0, *starts]]
        kind = "Relative" if purpose == "TxProfile" and draw(st.booleans()) else "Absolute"
        found.append(profile(pid, purpose, periods, evse=0 if purpose == "ChargingStationMaxProfile" else 1,
                             level=draw(st.integers(0, 3)), kind=kind, start=T0 + draw(st.integers(-300, 300)),
                             unit=draw(st.sampled_from(("W", "A"))),
                             duration=draw(st.one_of(st.none(), st.integers(1, 600))),
                             valid_from=draw(st.one_of(st.none(), st.integers(-100, 400).map(lambda d: T0 + d))),
                             tx="T1" if purpose == "TxProfile" else None))
    return found


def _applicable(profiles, t, tx):
    """Every limit the composite must respect at t, straight from the profiles (the winners of each kind)."""
    from controller.ocpp.smart_charging.composite import evse_limit_at, station_limit_at
    return [lim for lim in (station_limit_at(profiles, t), evse_limit_at(profiles, 1, t, tx)) if lim is not None]


@settings(max_examples=150, deadline=None)
@given(profile_sets(), st.integers(0, 700), st.sampled_from(("W", "A")), st.floats(200, 950))
def test_composite_never_above_an_applicable_limit_and_piecewise_constant(profiles, probe, unit, voltage):
    tx = TxContext("T1", T0 - 50)
    ceiling = 400_000.0 if unit == "W" else 500.0
    periods = composite(profiles, 1, T0, 700, unit, tx=tx, voltage_v=voltage, ceiling=ceiling)
    starts = [p.start_s for p in periods]
    assert starts[0] == 0 and starts == sorted(set(starts))
    assert all(a.limit != b.limit for a, b in zip(periods, periods[1:]))
    def direct(t):
        return limit_at(profiles, 1, t, unit, tx=tx, voltage_v=voltage, ceiling=ceiling, share=lambda s: s)
    for before, period in zip([None, *periods], periods):  # exact at every boundary, and the old one up to it
        assert period.limit == direct(T0 + period.start_s)
        if before is not None:  # every edge here is a whole second: a millisecond before is still the old one
            assert before.limit == direct(T0 + period.start_s - 0.001)
    in_force = [p for p in periods if p.start_s <= probe][-1]
    assert in_force.limit <= ceiling
    for limit in _applicable(profiles, T0 + probe, tx):
        assert in_force.limit <= limit.to(unit, voltage) + 1e-6
    # and it is the tightest of them: nothing in force is lost
    tightest = min([ceiling] + [lim.to(unit, voltage) for lim in _applicable(profiles, T0 + probe, tx)])
    assert abs(in_force.limit - tightest) < 1e-6
