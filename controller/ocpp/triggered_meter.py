"""TriggerMessage MeterValues (OCPP 2.0.1 F06): the CSMS asks for the present readings of one EVSE, or of every
EVSE when it names none. Each gets a MeterValues, context Trigger, with the measurands of AlignedDataCtrlr
.Measurands (F06.FR.06: the clock-aligned set). The energy register is the connector's Modbus meter; inside a
transaction the service's own readings stand in when the meter is not fresh, as for the transaction's events.
Outside one, without a fresh meter, the output's readings go instead of an empty message (the schema wants
at least one sampledValue)."""
from __future__ import annotations

from typing import Any

from controller.ocpp.aligned_meter import DEFAULT_MEASURANDS, chosen, idle_readings
from controller.ocpp.transactions import timestamp

CONTEXT = "Trigger"


def triggered_meter_values(service: Any, evse_id: int | None) -> list[dict]:
    """MeterValues payloads (camelCase: evseId, meterValue) for `evse_id`, or for every EVSE when None."""
    measurands = service.device_model.get({"name": "AlignedDataCtrlr"}, {"name": "Measurands"}, None)[1] \
        or DEFAULT_MEASURANDS
    now = service.clock()
    payloads = []
    for evse, connector in sorted(service.connectors.items()):
        if evse_id is not None and evse != evse_id:
            continue
        tx = service.transactions.get(evse)
        if tx is not None:
            readings = service._meter(connector, tx, now, CONTEXT) or []
            sampled = [s for reading in readings[-1:] for s in reading["sampledValue"]]
        else:
            sampled = idle_readings(connector, CONTEXT)
        picked = chosen(sampled, measurands) or sampled
        if picked:
            payloads.append({"evseId": evse, "meterValue": [{"timestamp": timestamp(now), "sampledValue": picked}]})
    return payloads
