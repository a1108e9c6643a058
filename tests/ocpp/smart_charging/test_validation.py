"""SetChargingProfile's rejections, and the installed profiles in the store (kept across a restart)."""
from __future__ import annotations

import pytest

from controller.ocpp.smart_charging.installed import InstalledProfiles
from controller.ocpp.smart_charging.validation import Settings
from controller.store.ocpp_profiles import ProfileStore

EVSES = (1, 2)


def data(pid=1, purpose="TxDefaultProfile", level=0, unit="W", periods=((0, 1000),), kind="Relative", **extra):
    schedule = {"id": 1, "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim} for s, lim in periods]}
    schedule.update(extra.pop("schedule", {}))
    return {"id": pid, "stackLevel": level, "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
            "chargingSchedule": [schedule], **extra}


@pytest.mark.parametrize("evse, profile, transactions, settings, reason", [
    (1, data(purpose="TxProfile"), {1: "T1"}, Settings(), "MissingTransactionId"),
    (1, data(purpose="TxProfile", transactionId="T1"), {}, Settings(), "TxNotFound"),
    (1, data(purpose="TxProfile", transactionId="T2"), {1: "T1"}, Settings(), "TxNotFound"),
    (0, data(purpose="TxProfile", transactionId="T1"), {1: "T1"}, Settings(), "InvalidEvse"),
    (1, data(purpose="ChargingStationMaxProfile"), {}, Settings(), "InvalidEvse"),
    (0, data(purpose="ChargingStationExternalConstraints"), {}, Settings(), "UnsupportedPurpose"),
    (7, data(), {}, Settings(), "UnknownEvse"),
    (1, data(unit="A"), {}, Settings(rate_units=("W",)), "UnsupportedRateUnit"),
    (1, data(level=9), {}, Settings(max_stack_level=8), "InvalidStackLevel"),
    (1, data(periods=((0, 1), (10, 2), (20, 3))), {}, Settings(periods_per_schedule=2), "InvalidSchedule"),
    (1, data(periods=((5, 1),)), {}, Settings(), "InvalidSchedule"),
    (1, data(periods=((0, 1), (10, 2), (10, 3))), {}, Settings(), "InvalidSchedule"),
    (1, data(kind="Absolute"), {}, Settings(), "InvalidSchedule"),
    (1, data(kind="Recurring", schedule={"startSchedule": "2026-01-01T00:00:00Z"}), {}, Settings(),
     "InvalidSchedule"),
    (1, data(validFrom="2026-02-01T00:00:00Z", validTo="2026-01-01T00:00:00Z"), {}, Settings(), "InvalidValidity"),
    (1, data(validFrom="yesterday"), {}, Settings(), "InvalidValue"),
    (1, data(), {}, Settings(enabled=False), "Disabled"),
    (0, data(purpose="ChargingStationMaxProfile"), {}, Settings(), "InvalidProfile"),  # Relative
    (1, data(periods=((0, float("nan")),)), {}, Settings(), "InvalidSchedule"),
    (1, data(periods=((0, float("inf")),)), {}, Settings(), "InvalidSchedule"),
    (1, data(periods=((0, -1),)), {}, Settings(), "InvalidSchedule"),
    (1, data(chargingSchedule=[{"id": 1, "chargingRateUnit": "W",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1}]}] * 2), {}, Settings(),
     "InvalidSchedule"),
])
def test_rejections(evse, profile, transactions, settings, reason):
    assert InstalledProfiles().set(evse, profile, EVSES, transactions, settings) == reason


def test_same_stack_level_and_purpose_on_the_same_evse_is_rejected_unless_validity_is_apart_or_same_id():
    book = InstalledProfiles()
    assert book.set(1, data(1), EVSES, {}, Settings()) is None
    assert book.set(1, data(2), EVSES, {}, Settings()) == "DuplicateProfile"
    assert book.set(2, data(2), EVSES, {}, Settings()) is None  # another EVSE
    assert book.set(1, data(1, periods=((0, 5),)), EVSES, {}, Settings()) is None  # replaces id 1
    assert book.by_id[1].periods[0].limit == 5
    apart = InstalledProfiles()
    assert apart.set(1, data(1, validTo="2026-01-01T00:00:00Z"), EVSES, {}, Settings()) is None
    assert apart.set(1, data(2, validFrom="2026-01-01T00:00:00Z"), EVSES, {}, Settings()) is None


def test_clear_by_id_and_by_criteria_and_profiles_outlive_a_restart(tmp_path):
    path = tmp_path / "store.db"
    book = InstalledProfiles(ProfileStore(path))
    assert book.set(0, data(1, "ChargingStationMaxProfile", kind="Absolute",
                            schedule={"startSchedule": "2026-01-01T00:00:00Z"}), EVSES, {}, Settings()) is None
    assert book.set(1, data(2, level=1), EVSES, {}, Settings()) is None
    assert book.set(2, data(3, level=1), EVSES, {}, Settings()) is None
    assert book.set(2, data(4, "TxProfile", transactionId="T2"), EVSES, {2: "T2"}, Settings()) is None
    book.close()
    again = InstalledProfiles(ProfileStore(path))
    assert sorted(again.by_id) == [1, 2, 3, 4]
    assert again.clear(None, None, "TxDefaultProfile", 1) is True
    assert sorted(again.by_id) == [1, 4]
    assert again.clear(99, None, None, None) is False
    assert again.end_transactions({2: "T3"}) == [4]  # its transaction ended
    assert again.clear(1, None, None, None) is True and again.by_id == {}
    again.close()
    assert InstalledProfiles(ProfileStore(path)).by_id == {}


def test_get_criteria():
    book = InstalledProfiles()
    book.set(1, data(1, level=1), EVSES, {}, Settings())
    book.set(2, data(2, level=2), EVSES, {}, Settings())
    assert [p.id for p in book.select(None, None, None, None, None)] == [1, 2]
    assert [p.id for p in book.select(2, None, None, None, None)] == [2]
    assert [p.id for p in book.select(None, "TxDefaultProfile", 1, None, None)] == [1]
    assert [p.id for p in book.select(None, None, None, [2], None)] == [2]
    assert book.select(None, None, None, None, ["EMS"]) == []
