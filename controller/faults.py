"""The fault catalogue: every fault the controller can raise, in one table.

severity  "emergency": modules off, contactors open and CP to F at once, in the receive path.
          "error":     stop through the protocol, ramp the current down, then open.
          "warning":   recorded and shown; charging goes on.
clears    "unplug":    cleared when the car is unplugged (CP A).
          "latched":   stays until a technician clears it (console `clear`).
          "auto":      cleared when the condition goes away (the driver reports it).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Literal

log = logging.getLogger(__name__)

# (code, detail, active): how every driver and the safety supervisor report a fault to the connector
FaultListener = Callable[[str, str, bool], None]


def report_fault(listener: FaultListener, source: str, code: str, detail: str, active: bool) -> bool:
    """The one way a fault is reported: the listener FIRST (the connector's reaction, an emergency power-off
    included, runs inside it, synchronously), then the log line. An exception in the listener is logged and
    never propagates: the reporter's own safety work goes on. Returns whether the listener took the report; a
    reporter records the change only then, so a reaction that failed is reported again on the next sample."""
    try:
        listener(code, detail, active)
        delivered = True
    except Exception:
        log.exception("%s: the fault listener failed on %s", source, code)
        delivered = False
    if active:
        log.warning("%s: %s raised: %s", source, code, detail)
    else:
        log.info("%s: %s cleared: %s", source, code, detail)
    return delivered
Severity = Literal["emergency", "error", "warning"]
Clears = Literal["unplug", "latched", "auto"]


@dataclass(frozen=True)
class FaultSpec:
    code: str
    severity: Severity
    clears: Clears
    text: str


_TABLE: tuple[FaultSpec, ...] = (
    # code                        severity     clears     sentence for the technician
    FaultSpec("ESTOP_PRESSED", "emergency", "latched",
              "The emergency stop button was pressed. Release it, check the cabinet, then clear the fault."),
    FaultSpec("CP_STATE_E", "emergency", "unplug",
              "The control pilot shows state E (short to earth or an EV error). Check the cable and the car inlet."),
    FaultSpec("CP_STATE_F", "emergency", "unplug",
              "The control pilot shows state F while the charger did not ask for it. Check the I/O board and the CP wiring."),
    FaultSpec("CP_INVALID", "emergency", "unplug",
              "The control pilot voltage is outside every IEC 61851 state. Check the CP wiring and the cable."),
    FaultSpec("CP_STATE_D", "error", "unplug",
              "The car asked for ventilation (state D), which this DC charger does not offer."),
    FaultSpec("IO_BOARD_LOST", "emergency", "auto",
              "No status from the I/O board for longer than allowed. Check the board's power and its CAN wiring."),
    FaultSpec("IO_WATCHDOG_TRIPPED", "emergency", "auto",
              "The I/O board lost the controller's heartbeat and opened the contactors by itself."),
    FaultSpec("IO_BOARD_OVERVOLTAGE_TRIP", "emergency", "latched",
              "The I/O board measured the cable voltage above the maximum programmed for the session and opened "
              "the contactors by itself (its CP shows F until reset). Check the modules' voltage regulation and "
              "the controller's voltage supervision before clearing."),
    FaultSpec("CONTACTOR_NOT_CLOSED", "error", "unplug",
              "A DC contactor did not report closed after the command. Check the coil supply and the auxiliary contact."),
    FaultSpec("CONTACTOR_WELDED", "emergency", "latched",
              "A DC contactor still reports closed after the open command, or voltage stays on the cable: possible weld. Do not use until inspected."),
    FaultSpec("CONTACTOR_OPENED", "emergency", "unplug",
              "A DC contactor opened under load without a command."),
    FaultSpec("MODULE_OVERVOLTAGE", "emergency", "latched",
              "A power module reported output over-voltage. Check the module and the output wiring before clearing."),
    FaultSpec("OUTPUT_OVERVOLTAGE", "error", "latched",
              "The measured output voltage stayed above min(car maximum, cable maximum) plus the margin for "
              "400 ms; the charger stopped through the protocol. Check the modules' voltage regulation."),
    FaultSpec("VOLTAGE_CLASS_EXCEEDED", "emergency", "latched",
              "The measured output voltage went above the IEC 61851-23 limit of the session's voltage class "
              "(550/825/935/1100/1375 V): everything was switched off at once. Check the modules and the "
              "I/O board's voltage measurement before clearing."),
    FaultSpec("OUTPUT_OVERCURRENT", "error", "latched",
              "The measured output current stayed above the car's maximum, the cable's maximum or the command "
              "(plus the margin). Check the modules' current regulation and the current measurement."),
    FaultSpec("PORT_OVERPOWER", "error", "unplug",
              "The measured output power stayed far above the port's max_power_kw although the setpoint was "
              "lowered. Check the voltage and current measurements and the modules' regulation."),
    FaultSpec("VOLTAGE_MEASUREMENT_STALE", "error", "auto",
              "The I/O board's DC voltage and current measurement stopped arriving while the output was live: "
              "nothing below 60 V can be trusted. Check the board and its CAN wiring."),
    FaultSpec("VOLTAGE_MEASUREMENT_MISMATCH", "error", "latched",
              "The I/O board's DC voltage and the modules' own voltage disagree with the contactors closed: a "
              "stuck or drifting sensor. Check the board's voltage divider and the modules before clearing."),
    FaultSpec("TEMPERATURE_SENSOR_FAULT", "error", "auto",
              "A connector temperature is missing, stale or implausible (open or shorted sensor); an unknown "
              "temperature is never taken as cold. Check the pin and cable sensors and their wiring."),
    FaultSpec("POWER_DERATED", "warning", "auto",
              "The connector or the modules are warm: the power is derated until they cool down."),
    FaultSpec("MODULE_SHORT_CIRCUIT", "emergency", "latched",
              "A power module reported an output short circuit: every module was switched off so the others "
              "do not feed the short. Inspect the output wiring, the cable and the module before clearing."),
    FaultSpec("MODULE_FAULT", "warning", "auto",
              "A power module reported a fault and was taken out of the group; the others carry on."),
    FaultSpec("MODULE_LOST", "warning", "auto",
              "A power module stopped answering on CAN and was dropped from the group; the others carry on."),
    FaultSpec("GROUP_CAPACITY_LOST", "warning", "auto",
              "The module group could not hold the commanded output; the current limit follows the healthy "
              "modules. Check the modules listed under `modules`."),
    FaultSpec("GROUP_LOST", "emergency", "auto",
              "No power module of this connector's group is healthy. Check module power and CAN wiring."),
    FaultSpec("CABLE_CHECK_FAILED", "error", "unplug",
              "The cable check did not reach or hold the test voltage. Check the modules and the cable."),
    FaultSpec("ISOLATION_FAULT", "emergency", "unplug",
              "Insulation resistance fell below the fault threshold. Check the cable and the car for an isolation fault."),
    FaultSpec("ISOLATION_WARNING", "warning", "auto",
              "Insulation resistance is below the warning threshold; charging continues. Inspect the cable and the car."),
    FaultSpec("IMD_LOST", "error", "auto",
              "The insulation monitor stopped answering; insulation is not supervised. Check its power and wiring."),
    FaultSpec("IMD_BAD_REPLY", "warning", "auto",
              "The insulation monitor answers with Modbus exceptions or corrupt data. Check wiring and settings."),
    FaultSpec("IMD_SELFTEST_FAILED", "error", "unplug",
              "The insulation monitor's self-test failed or gave no result in time. Check the IMD and its earth and system connections."),
    FaultSpec("IMD_DEVICE_ERROR", "error", "auto",
              "The insulation monitor reports a device error (earth or system connection, internal fault)."),
    FaultSpec("METER_LOST", "error", "auto",
              "The energy meter stopped answering on Modbus. Check its power, wiring and address."),
    FaultSpec("METER_STALE", "error", "auto",
              "The meter's readings are too old or frozen; session energy cannot be trusted."),
    FaultSpec("METER_BAD_REPLY", "warning", "auto",
              "The meter answers with Modbus exceptions or corrupt data. Check wiring, termination, baud rate and the model."),
    FaultSpec("PRECHARGE_FAILED", "error", "unplug",
              "Precharge did not reach the car's battery voltage in time."),
    FaultSpec("CONNECTOR_OVERTEMPERATURE", "error", "auto",
              "A DC pin or the cable is too hot. Check the pins for wear and the cable cooling."),
    FaultSpec("COMMUNICATION_FAILED", "error", "unplug",
              "The car and the charger could not set up powerline communication (SLAC) after several tries. "
              "Check the CP line, the cable and the car's inlet."),
    FaultSpec("EV_TIMEOUT", "error", "unplug",
              "The car stopped sending requests within the allowed time."),
    FaultSpec("EV_SEQUENCE_ERROR", "error", "unplug",
              "The car sent a request that is not allowed in the current phase."),
    FaultSpec("EV_SESSION_REFUSED", "error", "unplug",
              "The charger answered a request of the car with a FAILED code (a payment option, service or car "
              "it does not accept, or authorization refused) and ended the session. The detail names the "
              "request and the code."),
    FaultSpec("EV_REQUEST_INVALID", "warning", "unplug",
              "The car sent a value that is negative, not a number or outside the negotiated limits; the request "
              "was answered FAILED_WrongChargeParameter and the port stays in service."),
    FaultSpec("CONNECTOR_LOCK_FAILURE", "error", "unplug",
              "The connector lock did not report locked (or reported a fault); the charger did not energize the "
              "cable (ChargeX MREC1). Check the lock actuator, its feedback and the inlet."),
    FaultSpec("POWER_DOWN_FAILED", "emergency", "unplug",
              "The output current did not fall below 5 A within the bounded wait of a stop: the modules were "
              "switched off and the contactors opened under load. Check the modules' current regulation."),
    FaultSpec("IMD_INVALID", "error", "auto",
              "The insulation monitor gives no valid reading (invalid or device error) while the cable is "
              "energized: insulation is not supervised."),
    FaultSpec("V2G_MALFORMED_MESSAGE", "error", "unplug",
              "The car sent a V2G message that could not be decoded; the session was closed. A capture "
              "(charger-hil run --pcap, or tcpdump on the PLC interface) helps the firmware team."),
    FaultSpec("CONTROLLER_INTERNAL", "emergency", "latched",
              "The controller hit an internal error and cut the power. Collect the log and report it."),
    FaultSpec("UNPLUGGED_UNDER_LOAD", "emergency", "unplug",
              "The cable was unplugged (CP A) while energy was flowing."),
    FaultSpec("MATRIX_BOARD_LOST", "warning", "auto",
              "The power matrix board stopped answering: module groups stay where they are and are not moved. "
              "Check its power and CAN wiring."),
    FaultSpec("MATRIX_CONTACT_MISMATCH", "error", "latched",
              "A power matrix contact did not follow its command (not closed, or stuck closed). Check the "
              "matrix contactors and their feedback before clearing."),
    FaultSpec("EV_LIMIT_NOT_FOLLOWED", "error", "unplug",
              "The car did not lower its current in time after the charger lowered its limit to share power; "
              "the session was stopped."),
    FaultSpec("STORE_WRITE_FAILED", "warning", "auto",
              "The event and session store cannot write (disk full, read-only or failing). Charging goes on; "
              "sessions and faults are held in memory and written when the disk takes writes again, events "
              "meanwhile are lost. Free space on the store's disk or remount it read-write."),
    FaultSpec("SECC_CERTIFICATE_EXPIRING", "warning", "auto",
              "The SECC leaf certificate (ISO 15118 TLS) ends within 30 days or has ended; Plug & Charge cars "
              "refuse the station after its end. Renew it: OCPP SignCertificate V2GCertificate, or new [v2g.tls] files."),
)

CATALOGUE: dict[str, FaultSpec] = {spec.code: spec for spec in _TABLE}


def spec(code: str) -> FaultSpec:
    """The catalogue entry for `code`; an unknown code is a programming error."""
    return CATALOGUE[code]


@dataclass(frozen=True)
class Fault:
    """One raised fault: the catalogue entry plus where and when.

    `severity` is the catalogue's unless the cabinet config lowers it (e.g. charging on without a meter).
    """
    code: str
    connector_id: int | None
    detail: str
    t: float
    severity_override: Severity | None = None

    @property
    def spec(self) -> FaultSpec:
        return CATALOGUE[self.code]

    @property
    def severity(self) -> Severity:
        return self.severity_override or self.spec.severity


# ChargeX minimum required error codes (MREC, INL, Rev 5) for the faults where one applies: the code a CSMS reads
# (CX0nn, as EVerest's OCPP error mapping gives them, vendor CHARGEX_VENDOR) and the MREC's name. Faults with
# no MREC of their own (a lost meter, a car's timeout, ...) are reported with our code alone.
CHARGEX_VENDOR = "https://chargex.inl.gov"
MREC: dict[str, tuple[str, str]] = {
    "CONNECTOR_LOCK_FAILURE": ("CX001", "ConnectorLockFailure"),
    "ISOLATION_FAULT": ("CX002", "GroundFailure"),
    "OUTPUT_OVERCURRENT": ("CX004", "OverCurrentFailure"),
    "MODULE_SHORT_CIRCUIT": ("CX004", "OverCurrentFailure"),
    "OUTPUT_OVERVOLTAGE": ("CX005", "OverVoltage"),
    "VOLTAGE_CLASS_EXCEEDED": ("CX005", "OverVoltage"),
    "MODULE_OVERVOLTAGE": ("CX005", "OverVoltage"),
    "IO_BOARD_OVERVOLTAGE_TRIP": ("CX005", "OverVoltage"),
    "ESTOP_PRESSED": ("CX008", "EmergencyStop"),
    "CP_STATE_D": ("CX010", "InvalidVehicleMode"),  # ventilation asked of a DC charger
    "CABLE_CHECK_FAILED": ("CX011", "CableCheckFault"),
    "IMD_SELFTEST_FAILED": ("CX011", "CableCheckFault"),  # the IMD's self-test is a step of the cable check
    "CP_STATE_E": ("CX014", "PilotFault"),
    "CP_STATE_F": ("CX014", "PilotFault"),
    "CP_INVALID": ("CX014", "PilotFault"),
    "CONTACTOR_NOT_CLOSED": ("CX017", "EVSEContactorFault"),
    "CONTACTOR_WELDED": ("CX017", "EVSEContactorFault"),
    "CONTACTOR_OPENED": ("CX017", "EVSEContactorFault"),
    "CONNECTOR_OVERTEMPERATURE": ("CX019", "CableOverTempStop"),
}


def mrec(code: str) -> tuple[str, str] | None:
    """(CX0nn, MREC name) of a fault code, or None when no MREC applies."""
    return MREC.get(code)
