"""The station's OCPP 2.0.1 device model (block B): components and variables, GetVariables / SetVariables,
and the reports of GetBaseReport.

Defaults come from the configuration; a value the CSMS sets is kept in the store (VariableStore) and wins
over the configuration from then on, also after a restart. Only the Actual attribute exists here (others:
NotSupportedAttributeType). A read-only variable, or a value out of range or not supported, is Rejected.
Variables the link reads only when it connects answer RebootRequired: stored, in force after a restart.

Connector types: CCS1 is cCCS1. OCPP 2.0.1 has no NACS type (2.1 adds cNACS); a NACS cable is reported as
cTesla, the 2.0.1 list's name for that plug.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

from controller.formats.cabinet.config import OcppConfig
from controller.formats.cabinet.pricing import parse_price
from controller.ocpp.auth_settings import auth_variables
from controller.ocpp.contract_settings import contract_variables
from controller.ocpp.monitored_variables import device_model_variables
from controller.ocpp.device_data import device_data_variables
from controller.ocpp.smart_charging.variables import smart_charging_variables
from controller.store.ocpp_variables import VariableStore

CONNECTOR_TYPES = {"CCS1": "cCCS1", "NACS": "cTesla"}
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
TX_POINTS = "EVConnected,Authorized,PowerPathClosed,EnergyTransfer"  # controller/ocpp/tx_points.py
RW, RO = "ReadWrite", "ReadOnly"


@dataclass(frozen=True)
class Variable:
    component: str
    name: str
    data_type: str  # integer, boolean, string, OptionList, MemberList, SequenceList
    mutability: str = RO
    evse: int | None = None
    connector: int | None = None
    instance: str | None = None
    unit: str | None = None
    values_list: str | None = None  # the allowed values of an OptionList / MemberList
    apply: str = "live"  # "live": in force at once; "reboot": stored, in force after a restart
    minimum: int = 0  # integers: the smallest accepted value
    accepts: Callable[[str], bool] | None = None  # a value's own rule beyond its type (TariffCostCtrlr.Currency)

    @property
    def key(self) -> str:
        return "/".join(str(p) if p is not None else "" for p in
                        (self.component, self.evse, self.connector, self.name, self.instance))


# the configuration field each stored integer overrides (see effective_config)
CONFIG_FIELDS = {
    "HeartbeatInterval": "heartbeat_default_s", "RetryBackOffWaitMinimum": "retry_back_off_wait_minimum_s",
    "RetryBackOffRandomRange": "retry_back_off_random_range_s", "RetryBackOffRepeatTimes": "retry_back_off_repeat_times",
    "WebSocketPingInterval": "websocket_ping_interval_s", "TxUpdatedInterval": "meter_interval_s",
}


def catalogue(cfg: OcppConfig, station_id: str, connector_types: dict[int, str]) -> dict[str, tuple[Variable, str]]:
    """Every variable with its default value, by key."""
    comm, tx, sampled = "OCPPCommCtrlr", "TxCtrlr", "SampledDataCtrlr"
    entries: list[tuple[Variable, str]] = [
        (Variable(comm, "HeartbeatInterval", "integer", RW, unit="s", minimum=1), _whole(cfg.heartbeat_default_s)),
        (Variable(comm, "RetryBackOffWaitMinimum", "integer", RW, unit="s", apply="reboot"),
         _whole(cfg.retry_back_off_wait_minimum_s)),
        (Variable(comm, "RetryBackOffRandomRange", "integer", RW, unit="s", apply="reboot"),
         _whole(cfg.retry_back_off_random_range_s)),
        (Variable(comm, "RetryBackOffRepeatTimes", "integer", RW, apply="reboot"), str(cfg.retry_back_off_repeat_times)),
        (Variable(comm, "WebSocketPingInterval", "integer", RW, unit="s", apply="reboot"),
         _whole(cfg.websocket_ping_interval_s)),
        (Variable(comm, "MessageAttempts", "integer", RW, instance="TransactionEvent", minimum=1), "3"),
        (Variable(comm, "MessageAttemptInterval", "integer", RW, instance="TransactionEvent", unit="s"), "60"),
        (Variable(comm, "MessageTimeout", "integer", RO, instance="Default", unit="s"), str(int(cfg.response_timeout_s))),
        (Variable(tx, "TxStartPoint", "MemberList", RW, values_list=TX_POINTS), "EVConnected"),
        (Variable(tx, "TxStopPoint", "MemberList", RW, values_list=TX_POINTS), "EVConnected"),
        (Variable(tx, "EVConnectionTimeOut", "integer", RO, unit="s"), "60"),
        # energy after the CSMS refused a started transaction's token (controller/ocpp/invalid_id.py)
        (Variable(tx, "MaxEnergyOnInvalidId", "integer", RW, unit="Wh"), "0"),
        (Variable(sampled, "TxUpdatedInterval", "integer", RW, unit="s", minimum=1), _whole(cfg.meter_interval_s)),
        (Variable(sampled, "TxUpdatedMeasurands", "MemberList", RO), MEASURANDS),
        (Variable(sampled, "TxEndedMeasurands", "MemberList", RO), MEASURANDS),
        (Variable(sampled, "TxEndedInterval", "integer", RO, unit="s"), "0"),
        *auth_variables(),  # AuthCtrlr, AuthCacheCtrlr, LocalAuthListCtrlr (controller/ocpp/auth_settings.py)
        (Variable("SecurityCtrlr", "SecurityProfile", "integer", RW), str(cfg.security_profile)),
        (Variable("SecurityCtrlr", "Identity", "string", RO), station_id),
        (Variable("SecurityCtrlr", "OrganizationName", "string", RW), cfg.vendor),  # O= of the station's CSR
        (Variable("SecurityCtrlr", "CertSigningWaitMinimum", "integer", RW, unit="s", minimum=1), "60"),
        (Variable("SecurityCtrlr", "CertSigningRepeatTimes", "integer", RW), "3"),
        # set through controller/ocpp/network_profiles.py, which also gives their values (DeviceModel.live)
        (Variable(comm, "NetworkConfigurationPriority", "SequenceList", RW), "0"),
        (Variable(comm, "NetworkProfileConnectionAttempts", "integer", RW, minimum=1), "3"),
        # block J (controller/ocpp/aligned_meter.py): Interval 0 is off until the CSMS sets it
        (Variable("AlignedDataCtrlr", "Interval", "integer", RW, unit="s"), "0"),
        (Variable("AlignedDataCtrlr", "Measurands", "MemberList", RW, values_list=MEASURANDS),
         "Energy.Active.Import.Register"),
        (Variable("AlignedDataCtrlr", "TxEndedInterval", "integer", RW, unit="s"), "0"),
        (Variable("AlignedDataCtrlr", "TxEndedMeasurands", "MemberList", RW, values_list=MEASURANDS),
         "Energy.Active.Import.Register"),
        (Variable("ReservationCtrlr", "Available", "boolean", RO), "true"),  # block H: controller/ocpp/reservations.py
        (Variable("ReservationCtrlr", "Enabled", "boolean", RW), "true"),
        (Variable("ReservationCtrlr", "NonEvseSpecific", "boolean", RW), "true"),
        (Variable(comm, "QueueAllMessages", "boolean", RW), "true"),  # MeterValues etc. queued like TransactionEvent
        *device_model_variables(sorted(connector_types)),  # block N: controller/ocpp/monitored_variables.py
        (Variable("ChargingStation", "AvailabilityState", "OptionList", RO), ""),
        (Variable("ChargingStation", "SupplyPhases", "integer", RO), "0"),  # DC
        *device_data_variables(),  # DeviceDataCtrlr, ClockCtrlr (controller/ocpp/device_data.py)
        *smart_charging_variables(),  # block K: controller/ocpp/smart_charging/variables.py
        *contract_variables(),  # ISO15118Ctrlr contract validation: controller/ocpp/contract_settings.py
    ]
    for evse, plug in sorted(connector_types.items()):
        entries += [(Variable("EVSE", "AvailabilityState", "OptionList", RO, evse=evse), ""),
                    (Variable("EVSE", "SupplyPhases", "integer", RO, evse=evse), "0"),
                    (Variable("Connector", "AvailabilityState", "OptionList", RO, evse=evse, connector=1), ""),
                    (Variable("Connector", "ConnectorType", "OptionList", RO, evse=evse, connector=1),
                     CONNECTOR_TYPES.get(plug, "Unknown"))]
    return {v.key: (v, default) for v, default in entries}


class DeviceModel:
    def __init__(self, cfg: OcppConfig, station_id: str, connector_types: dict[int, str],
                 availability: Callable[[int | None], str], store: VariableStore | None = None,
                 extra: tuple[tuple[Variable, str], ...] = ()):
        """`availability(evse)`: AvailabilityState of one EVSE (its connector), or of the station (None).
        `extra`: more variables with their defaults (TariffCostCtrlr: controller/ocpp/tariff_cost.py)."""
        self._vars = {**catalogue(cfg, station_id, connector_types), **{v.key: (v, d) for v, d in extra}}
        self._store = store if store is not None else VariableStore()
        self._availability = availability
        self._cfg = cfg
        stored = {key: value for key, value in self._store.load().items() if key in self._vars}
        self._values = {key: stored.get(key, default) for key, (_, default) in self._vars.items()}
        self._set_keys = set(stored)  # values the CSMS gave; the others are the configuration's
        # the reboot-only values in force now: those of the start, not those set since
        self._at_start, self._set_at_start = dict(self._values), set(stored)
        self._boot_heartbeat: float | None = None
        # (component, name), or a Variable's key, -> its value now, kept elsewhere
        self.live: dict[tuple[str, str] | str, Callable[[], str]] = {}

    # ---- values the service uses --------------------------------------------------------------------------
    def number(self, component: str, name: str, instance: str | None = None) -> float:
        """A variable's value in force; the configuration's own (possibly fractional) value until set."""
        key = Variable(component, name, "integer", instance=instance).key
        var = self._vars[key][0]
        values, given = (self._values, self._set_keys) if var.apply == "live" else (self._at_start, self._set_at_start)
        if var.name == "HeartbeatInterval" and self._heartbeat() is not None:
            return self._heartbeat()
        if key not in given and var.name in CONFIG_FIELDS:
            return float(getattr(self._cfg, CONFIG_FIELDS[var.name]))
        return float(values[key])

    def text(self, component: str, name: str, instance: str | None = None) -> str:
        """A variable's value in force, as text (TxStartPoint, ...)."""
        return self.value(self._vars[Variable(component, name, "", instance=instance).key][0])

    def note(self, component: str, name: str, value: str) -> None:
        """A read-only value the station keeps up to date itself (LocalAuthListCtrlr.Entries); not stored."""
        self._values[Variable(component, name, "").key] = value

    def effective_config(self, cfg: OcppConfig) -> OcppConfig:
        """The configuration with the values the CSMS set before this start in force."""
        changes = {}
        for key in self._set_at_start:
            field = CONFIG_FIELDS.get(self._vars[key][0].name)
            if field is not None:
                changes[field] = type(getattr(cfg, field))(int(self._at_start[key]))
        return dataclasses.replace(cfg, **changes)

    def set_heartbeat(self, seconds: float) -> None:
        """The CSMS's BootNotification interval is the HeartbeatInterval (B01.FR.04); not stored, and a
        value the CSMS set by SetVariables stays in force."""
        self._boot_heartbeat = seconds

    def _heartbeat(self) -> float | None:
        key = Variable("OCPPCommCtrlr", "HeartbeatInterval", "integer").key
        return None if key in self._set_keys else self._boot_heartbeat

    # ---- GetVariables / SetVariables ------------------------------------------------------------------------
    def _find(self, component: dict, variable: dict) -> tuple[Variable | None, str]:
        evse = component.get("evse") or {}
        key = Variable(component.get("name", ""), variable.get("name", ""), "", evse=evse.get("id"),
                       connector=evse.get("connector_id", evse.get("connectorId")),
                       instance=variable.get("instance")).key
        if key in self._vars:
            return self._vars[key][0], ""
        known_component = any(v.component == component.get("name") and v.evse == evse.get("id")
                              for v, _ in self._vars.values())
        return None, "UnknownVariable" if known_component else "UnknownComponent"

    def value(self, var: Variable) -> str:
        if var.key in self.live:  # one EVSE's own value (the monitored variables)
            return self.live[var.key]()
        if (var.component, var.name) in self.live:
            return self.live[(var.component, var.name)]()
        if var.name == "AvailabilityState":
            return self._availability(var.evse)
        if var.name == "HeartbeatInterval" and self._heartbeat() is not None:
            return _whole(self._heartbeat())
        return self._values[var.key]

    def get(self, component: dict, variable: dict, attribute: str | None) -> tuple[str, str | None]:
        var, unknown = self._find(component, variable)
        if var is None:
            return unknown, None
        if attribute not in (None, "Actual"):
            return "NotSupportedAttributeType", None
        return "Accepted", self.value(var)

    def set(self, component: dict, variable: dict, attribute: str | None, value: str) -> str:
        var, unknown = self._find(component, variable)
        if var is None:
            return unknown
        if attribute not in (None, "Actual"):
            return "NotSupportedAttributeType"
        if var.mutability != RW or not _valid(var, value):
            return "Rejected"
        self._store.save(var.key, value)  # on disk before it is in force: a restart keeps what was accepted
        self._values[var.key] = value
        self._set_keys.add(var.key)
        return "RebootRequired" if var.apply == "reboot" else "Accepted"

    # ---- GetBaseReport -----------------------------------------------------------------------------------------
    def report(self, base: str) -> list[dict]:
        """reportData entries (camelCase) of a ConfigurationInventory (writable only) or FullInventory."""
        data = []
        for var, _ in self._vars.values():
            if base == "ConfigurationInventory" and var.mutability != RW:
                continue
            component: dict = {"name": var.component}
            if var.evse is not None:
                component["evse"] = {"id": var.evse, **({"connectorId": var.connector} if var.connector else {})}
            variable: dict = {"name": var.name, **({"instance": var.instance} if var.instance else {})}
            characteristics: dict = {"dataType": var.data_type, "supportsMonitoring": var.key in self.live}
            if var.unit:
                characteristics["unit"] = var.unit
            if var.values_list:
                characteristics["valuesList"] = var.values_list
            data.append({"component": component, "variable": variable,
                         "variableAttribute": [{"type": "Actual", "value": self.value(var)[:2500],
                                                "mutability": var.mutability, "persistent": True}],
                         "variableCharacteristics": characteristics})
        return data

    def close(self) -> None:
        self._store.close()


def _whole(seconds: float) -> str:
    """An integer variable's default from a configured number of seconds (0.5 s shows as 1, never 0)."""
    return str(max(1, math.ceil(seconds)))


def _valid(var: Variable, value: str) -> bool:
    if var.accepts is not None and not var.accepts(value):
        return False
    if var.data_type == "integer":
        try:
            return var.minimum <= int(value) <= 86_400 * 7
        except ValueError:
            return False
    if var.data_type == "boolean":
        return value in ("true", "false")
    if var.data_type == "decimal":  # a price: 0 or more, at most 6 places (controller/formats/cabinet/pricing.py)
        try:
            return parse_price(value) is not None
        except ValueError:
            return False
    if var.data_type in ("MemberList", "SequenceList") and var.values_list is not None:
        allowed = set(var.values_list.split(","))
        members = value.split(",")
        return bool(value) and set(members) <= allowed
    return True
