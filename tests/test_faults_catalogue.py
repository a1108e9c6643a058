"""The fault catalogue pinned code by code: a changed severity or clearing rule (ISOLATION_FAULT emergency ->
error, a latched weld that clears on unplug) fails here and has to be changed on purpose, in this table too."""
from __future__ import annotations

import pytest

from controller.faults import CATALOGUE, Fault, mrec, spec

# code: (severity, clears)
PINNED = {
    "ESTOP_PRESSED": ("emergency", "latched"),
    "CP_STATE_E": ("emergency", "unplug"),
    "CP_STATE_F": ("emergency", "unplug"),
    "CP_INVALID": ("emergency", "unplug"),
    "CP_STATE_D": ("error", "unplug"),
    "IO_BOARD_LOST": ("emergency", "auto"),
    "IO_WATCHDOG_TRIPPED": ("emergency", "auto"),
    "IO_BOARD_OVERVOLTAGE_TRIP": ("emergency", "latched"),
    "CONTACTOR_NOT_CLOSED": ("error", "unplug"),
    "CONTACTOR_WELDED": ("emergency", "latched"),
    "CONTACTOR_OPENED": ("emergency", "unplug"),
    "MODULE_OVERVOLTAGE": ("emergency", "latched"),
    "OUTPUT_OVERVOLTAGE": ("error", "latched"),
    "VOLTAGE_CLASS_EXCEEDED": ("emergency", "latched"),
    "OUTPUT_OVERCURRENT": ("error", "latched"),
    "PORT_OVERPOWER": ("error", "unplug"),
    "VOLTAGE_MEASUREMENT_STALE": ("error", "auto"),
    "VOLTAGE_MEASUREMENT_MISMATCH": ("error", "latched"),
    "TEMPERATURE_SENSOR_FAULT": ("error", "auto"),
    "POWER_DERATED": ("warning", "auto"),
    "MODULE_SHORT_CIRCUIT": ("emergency", "latched"),
    "MODULE_FAULT": ("warning", "auto"),
    "MODULE_LOST": ("warning", "auto"),
    "GROUP_CAPACITY_LOST": ("warning", "auto"),
    "GROUP_LOST": ("emergency", "auto"),
    "CABLE_CHECK_FAILED": ("error", "unplug"),
    "ISOLATION_FAULT": ("emergency", "unplug"),
    "ISOLATION_WARNING": ("warning", "auto"),
    "IMD_LOST": ("error", "auto"),
    "IMD_BAD_REPLY": ("warning", "auto"),
    "IMD_SELFTEST_FAILED": ("error", "unplug"),
    "IMD_DEVICE_ERROR": ("error", "auto"),
    "METER_LOST": ("error", "auto"),
    "METER_STALE": ("error", "auto"),
    "METER_BAD_REPLY": ("warning", "auto"),
    "PRECHARGE_FAILED": ("error", "unplug"),
    "CONNECTOR_OVERTEMPERATURE": ("error", "auto"),
    "COMMUNICATION_FAILED": ("error", "unplug"),
    "EV_TIMEOUT": ("error", "unplug"),
    "EV_SEQUENCE_ERROR": ("error", "unplug"),
    "EV_SESSION_REFUSED": ("error", "unplug"),
    "EV_REQUEST_INVALID": ("warning", "unplug"),
    "CONNECTOR_LOCK_FAILURE": ("error", "unplug"),
    "POWER_DOWN_FAILED": ("emergency", "unplug"),
    "IMD_INVALID": ("error", "auto"),
    "V2G_MALFORMED_MESSAGE": ("error", "unplug"),
    "CONTROLLER_INTERNAL": ("emergency", "latched"),
    "UNPLUGGED_UNDER_LOAD": ("emergency", "unplug"),
    "MATRIX_BOARD_LOST": ("warning", "auto"),  # groups stay where they are: sharing stops, charging goes on
    "MATRIX_CONTACT_MISMATCH": ("error", "latched"),
    "EV_LIMIT_NOT_FOLLOWED": ("error", "unplug"),
    "STORE_WRITE_FAILED": ("warning", "auto"),  # a log, not a safety function: charging goes on
    "SECC_CERTIFICATE_EXPIRING": ("warning", "auto"),
}

# what a code must at least be: the faults whose reaction IEC 61851-23 or the issue fixes
MUST_BE_EMERGENCY = ("ESTOP_PRESSED", "ISOLATION_FAULT", "VOLTAGE_CLASS_EXCEEDED", "MODULE_SHORT_CIRCUIT",
                     "MODULE_OVERVOLTAGE", "IO_BOARD_LOST", "CONTACTOR_WELDED", "CONTROLLER_INTERNAL", "CP_STATE_E")
MUST_BLOCK = ("OUTPUT_OVERVOLTAGE", "OUTPUT_OVERCURRENT", "VOLTAGE_MEASUREMENT_STALE",
              "VOLTAGE_MEASUREMENT_MISMATCH", "TEMPERATURE_SENSOR_FAULT", "PORT_OVERPOWER",
              "CONNECTOR_OVERTEMPERATURE")


def test_every_code_is_pinned_and_nothing_else():
    assert set(CATALOGUE) == set(PINNED)


@pytest.mark.parametrize("code", sorted(PINNED))
def test_severity_and_clearing_rule(code):
    entry = spec(code)
    assert (entry.severity, entry.clears) == PINNED[code]
    assert entry.code == code
    assert len(entry.text) >= 40 and entry.text.endswith(".")  # a sentence a technician can act on


@pytest.mark.parametrize("code", MUST_BE_EMERGENCY)
def test_emergencies_stay_emergencies(code):
    assert CATALOGUE[code].severity == "emergency"


@pytest.mark.parametrize("code", MUST_BLOCK)
def test_supervision_faults_block_energizing(code):
    assert CATALOGUE[code].severity in ("emergency", "error")


def test_a_raised_fault_takes_the_catalogue_severity_unless_lowered_by_config():
    assert Fault("ISOLATION_FAULT", 1, "", 0.0).severity == "emergency"
    assert Fault("METER_LOST", 1, "", 0.0, severity_override="warning").severity == "warning"


def test_an_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError):
        spec("NO_SUCH_FAULT")


def test_the_chargex_code_a_csms_reads_for_a_fault():
    assert mrec("CP_INVALID") == ("CX014", "PilotFault")
    assert mrec("ISOLATION_FAULT") == ("CX002", "GroundFailure")
    assert mrec("METER_LOST") is None  # no MREC of its own: reported with our code alone
