"""The variables a CSMS may monitor (OCPP 2.0.1 N04), and where their values come from.

Per EVSE (= connector): its Connector's Temperature (the hottest of the I/O board's DC+, DC- and cable
sensors), the EVSE's DCVoltage (the output voltage the connector's snapshot reports) and AvailableModules
(the healthy power modules of its group); for the cabinet, ChargingStation Temperature (the hottest power
module: the cabinet has no air sensor of its own). Values are read from the connectors' status paths when
the monitors are sampled, never in the CAN receive path. A value not known yet (no frame so far) is None.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from controller.ocpp.device_model import Variable

MONITORING = "MonitoringCtrlr"
MAX_MONITORS = 50


@dataclass(frozen=True)
class Monitored:
    component: str
    name: str
    unit: str
    evse: int | None = None
    connector: int | None = None

    @property
    def where(self) -> tuple[str, int | None, int | None, str]:
        return self.component, self.evse, self.connector, self.name


def monitored(evses: list[int]) -> list[Monitored]:
    found = [Monitored("ChargingStation", "Temperature", "Celsius")]
    for evse in evses:
        found += [Monitored("Connector", "Temperature", "Celsius", evse, 1), Monitored("EVSE", "DCVoltage", "V", evse),
                  Monitored("EVSE", "AvailableModules", "", evse)]
    return found


def reader(item: Monitored, connectors: dict[int, Any]) -> Callable[[], float | None]:
    """How to read one monitored variable now."""
    if item.component == "ChargingStation":
        return lambda: _hottest(_module_temperature(c) for c in connectors.values())
    connector = connectors[item.evse]
    if item.component == "Connector":
        return lambda: _board_temperature(connector)
    if item.name == "DCVoltage":
        return lambda: float(connector.snapshot()["voltage_v"])
    return lambda: _healthy_modules(connector)


def where_of(component: dict, variable: dict) -> tuple[str, int | None, int | None, str]:
    """The (component, evse, connector, name) a request names; its keys are snake_case (as ocpp hands them)."""
    evse = component.get("evse") or {}
    return (component.get("name", ""), evse.get("id"), evse.get("connector_id", evse.get("connectorId")),
            variable.get("name", ""))


def device_model_variables(evses: list[int]) -> list[tuple["Variable", str]]:
    """MonitoringCtrlr and the monitored variables, for the device model's catalogue (their values: live)."""
    from controller.ocpp.device_model import RO, RW, Variable  # the catalogue imports this module
    entries: list[tuple[Variable, str]] = [(Variable(MONITORING, "Enabled", "boolean", RW), "true")]
    for action in ("SetVariableMonitoring", "ClearVariableMonitoring"):
        entries += [(Variable(MONITORING, "ItemsPerMessage", "integer", RO, instance=action), str(MAX_MONITORS)),
                    (Variable(MONITORING, "BytesPerMessage", "integer", RO, instance=action), "65536")]
    for item in monitored(evses):
        entries.append((Variable(item.component, item.name, "decimal" if item.unit else "integer", RO,
                                 evse=item.evse, connector=item.connector, unit=item.unit or None), ""))
    return entries


def _board_temperature(connector: Any) -> float | None:
    status = getattr(getattr(connector, "io", None), "status", None)
    if status is None:
        return None
    return _hottest((status.temp_dc_plus_c, status.temp_dc_minus_c, status.temp_cable_c))


def _module_temperature(connector: Any) -> float | None:
    group = getattr(connector, "group", None)
    return None if group is None else group.hottest_module_c


def _healthy_modules(connector: Any) -> float | None:
    group = getattr(connector, "group", None)
    return None if group is None else float(group.capabilities.healthy_count)


def _hottest(values) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None
