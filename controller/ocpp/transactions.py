"""Transactions as OCPP 2.0.1 block E sees them: one per plug-in, TransactionEvent payloads with seqNo.

When a transaction starts and ends is the TxStartPoint / TxStopPoint's (controller/ocpp/tx_points.py);
charging, suspension and authorization in between are Updated events. Its state is stored with each event
(controller/ocpp/open_transactions.py), so a restart ends or continues it with the next seqNo. Payloads are
built camelCase, exactly as sent, because they are stored in the queue before they are sent.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

# connector state -> OCPP chargingState while a transaction runs
CHARGING_STATE = {
    "plugged": "EVConnected", "negotiating": "EVConnected", "authorizing": "EVConnected",
    "parameter_discovery": "EVConnected", "cable_check": "EVConnected", "precharge": "EVConnected",
    "charging": "Charging", "stopping": "EVConnected", "welding_detection": "EVConnected",
    "session_end": "EVConnected", "error_shutdown": "SuspendedEVSE", "emergency": "SuspendedEVSE",
}
# the connector's session stop reasons -> OCPP stoppedReason
STOPPED_REASON = {
    "remote": "Remote", "user_stop": "Local", "console_stop": "Local", "unplugged": "EVDisconnected",
    "ev_left_state_c": "EVDisconnected", "ev_stop": "StoppedByEV", "deauthorized": "DeAuthorized",
    "token_stop": "Local", "energy_limit": "EnergyLimitReached",
}
# the first fault code of an "emergency:..." or "error:..." stop -> OCPP stoppedReason (else Other)
FAULT_STOPPED_REASON = {
    "ESTOP_PRESSED": "EmergencyStop", "ISOLATION_FAULT": "GroundFault", "OUTPUT_OVERCURRENT": "OvercurrentFault",
    "UNPLUGGED_UNDER_LOAD": "EVDisconnected", "EV_TIMEOUT": "Timeout",
}


def timestamp(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stopped_reason(stop_reason: str, remote_stop: bool) -> str:
    """Why the transaction stopped, from the connector's reason for the end of its session."""
    if remote_stop:
        return "Remote"
    if not stop_reason:  # unplugged before any session began
        return "EVDisconnected"
    if stop_reason in STOPPED_REASON:
        return STOPPED_REASON[stop_reason]
    kind, _, codes = stop_reason.partition(":")
    if kind in ("emergency", "error"):
        return FAULT_STOPPED_REASON.get(codes.split(",")[0], "EmergencyStop" if not codes else "Other")
    return "Other"


@dataclass
class Transaction:
    evse_id: int
    transaction_id: str = field(default_factory=lambda: uuid.uuid4().hex[:32])
    seq_no: int = 0
    charging_state: str = "EVConnected"
    id_token: dict | None = None
    remote_start_id: int | None = None
    remote_stop: bool = False
    token_sent: bool = False
    session_ids: set[str] = field(default_factory=set)  # the connector's sessions during this transaction
    # what a restart needs to end it: when the last event was made, the link then, the last energy register
    last_t: float = 0.0
    online: bool = False
    energy_wh: float | None = None
    points_seen: set[str] = field(default_factory=set)  # the Tx points that held (a stop point ends it once seen)

    def event(self, event_type: str, trigger: str, t: float, *, meter: list[dict] | None = None,
              stopped: str | None = None) -> dict:
        """The next TransactionEvent of this transaction (seqNo counts every event, without gaps)."""
        info: dict = {"transactionId": self.transaction_id, "chargingState": self.charging_state}
        if stopped is not None:
            info["stoppedReason"] = stopped
        if self.remote_start_id is not None and not self.token_sent:
            info["remoteStartId"] = self.remote_start_id
        payload: dict = {"eventType": event_type, "timestamp": timestamp(t), "triggerReason": trigger,
                         "seqNo": self.seq_no, "transactionInfo": info}
        if event_type == "Started":
            payload["evse"] = {"id": self.evse_id, "connectorId": 1}
        if self.id_token is not None and not self.token_sent:
            payload["idToken"] = self.id_token  # once, in the event where the authorization arrived
            self.token_sent = True
        if meter:
            payload["meterValue"] = meter
            self.energy_wh = energy_of(meter, self.energy_wh)
        self.seq_no += 1
        self.last_t = t
        return payload

    def to_state(self) -> dict:
        """What is stored with each of its events (controller/store/ocpp_transactions.py)."""
        state = asdict(self)
        state["session_ids"] = sorted(self.session_ids)
        state["points_seen"] = sorted(self.points_seen)
        return state

    @classmethod
    def from_state(cls, state: dict) -> "Transaction":
        known = {name: value for name, value in state.items() if name in cls.__dataclass_fields__}
        known["session_ids"] = set(known.get("session_ids", ()))
        known["points_seen"] = set(known.get("points_seen", ()))
        return cls(**known)


def energy_of(meter: list[dict], default: float | None) -> float | None:
    """The energy register in a meterValue list, or `default` when it holds none."""
    for value in meter:
        for sampled in value.get("sampledValue", ()):
            if sampled.get("measurand") == "Energy.Active.Import.Register":
                return float(sampled["value"])
    return default


def meter_value(t: float, context: str, *, energy_wh: float, power_w: float, current_a: float,
                voltage_v: float, soc: float | None) -> list[dict]:
    sampled = [
        {"value": round(energy_wh, 1), "measurand": "Energy.Active.Import.Register", "context": context,
         "unitOfMeasure": {"unit": "Wh"}},
        {"value": round(power_w, 1), "measurand": "Power.Active.Import", "context": context,
         "unitOfMeasure": {"unit": "W"}},
        {"value": round(current_a, 1), "measurand": "Current.Import", "context": context,
         "unitOfMeasure": {"unit": "A"}},
        {"value": round(voltage_v, 1), "measurand": "Voltage", "context": context, "unitOfMeasure": {"unit": "V"}},
    ]
    if soc is not None:
        sampled.append({"value": float(soc), "measurand": "SoC", "context": context,
                        "unitOfMeasure": {"unit": "Percent"}})
    return [{"timestamp": timestamp(t), "sampledValue": sampled}]
