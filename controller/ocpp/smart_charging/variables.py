"""SmartChargingCtrlr in the device model, and the validation settings read from it.

LimitChangeSignificance is kept for the CSMS (a percentage) but not yet acted on: the station sends no
NotifyChargingLimit and no TransactionEvent ChargingRateChanged (see desk.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from controller.ocpp.smart_charging.validation import Settings

if TYPE_CHECKING:
    from controller.ocpp.device_model import DeviceModel, Variable

CTRLR = "SmartChargingCtrlr"
PERIODS_PER_SCHEDULE = 1024  # the schema's own maximum, and ISO-2's PMaxScheduleEntry maximum
PROFILE_STACK_LEVEL = 8
RATE_UNITS = "A,W"


def smart_charging_variables() -> list[tuple[Variable, str]]:
    """The variables with their defaults, for the device model's catalogue."""
    from controller.ocpp.device_model import RO, RW, Variable  # the catalogue imports this module
    return [
        (Variable(CTRLR, "Available", "boolean", RO), "true"),
        (Variable(CTRLR, "Enabled", "boolean", RW), "true"),
        (Variable(CTRLR, "Entries", "integer", RO, instance="ChargingProfiles"), "0"),  # live: desk.py
        (Variable(CTRLR, "LimitChangeSignificance", "integer", RW, unit="Percent"), "5"),
        (Variable(CTRLR, "PeriodsPerSchedule", "integer", RO), str(PERIODS_PER_SCHEDULE)),
        (Variable(CTRLR, "ProfileStackLevel", "integer", RO), str(PROFILE_STACK_LEVEL)),
        (Variable(CTRLR, "RateUnit", "MemberList", RO, values_list=RATE_UNITS), RATE_UNITS),
        (Variable(CTRLR, "ExternalControlSignalsEnabled", "boolean", RO), "false"),
    ]


def settings(model: DeviceModel) -> Settings:
    return Settings(enabled=model.text(CTRLR, "Enabled") == "true",
                    max_stack_level=int(model.number(CTRLR, "ProfileStackLevel")),
                    periods_per_schedule=int(model.number(CTRLR, "PeriodsPerSchedule")),
                    rate_units=tuple(model.text(CTRLR, "RateUnit").split(",")))
