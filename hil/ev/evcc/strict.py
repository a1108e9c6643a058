"""The strict car: every answer checked the way real cars and Josev check it.

Each check names the requirement it enforces; `V2gEvLink` ends the run with the first violation
(`StrictCarViolation`, an EvLinkError), so a scenario fails with the rule the SECC broke. Checks:

- SDP: the TCP port is a dynamic port (49152-65535, RFC 6335 / ISO 15118-2; Josev refuses others), transport
  TCP, TLS only when the car asked for it.
- Handshake: a positive code names a SchemaID the car offered.
- Every response: the response type of the request, the session's SessionID, a response code valid for the type.
- EVSE status per phase: CableCheck Ongoing says EVSE_IsolationMonitoringActive (or Ready), CableCheck Finished
  says EVSE_Ready with isolation Valid (Josev: "Isolation-Level of EVSE is not Valid"); PreCharge, PowerDelivery
  and CurrentDemand say EVSE_Ready unless the EVSE stops (Shutdown / EmergencyShutdown, or StopCharging);
  PreCharge and CurrentDemand keep the isolation Valid (or Warning) once checked.
- Physical values: multiplier -3..3, the unit of the quantity (V, A, W, Wh, s; DIN may leave it out).
- Plug & Charge: Contract payment offered only over TLS (ISO 15118-2: a contract is used over TLS only);
  PaymentDetailsRes OK carries a 16-byte GenChallenge; a CurrentDemandRes that asks for a receipt carries the
  MeterInfo to sign.
- Answer times within the EV's timeouts (DIN 70121 / ISO 15118-2: 2 s; CurrentDemand 250 ms; ISO-2
  PowerDelivery, ServiceDetail, PaymentDetails and certificates 5 s), less the time the car's own process was
  not scheduled (hil/ev/process_stalls.py): a loaded machine's stall is not the SECC's answer time.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from controller.formats.v2g import v2gtp
from hil.ev.evcc.link_error import EvLinkError

DYNAMIC_PORTS = range(49152, 65536)
EV_TIMEOUT_S = 2.0
EV_TIMEOUTS_S = {
    "din": {"CurrentDemandReq": 0.25},
    "iso2": {"CurrentDemandReq": 0.25, "PowerDeliveryReq": 5.0, "ServiceDetailReq": 5.0, "PaymentDetailsReq": 5.0,
             "CertificateInstallationReq": 5.0, "CertificateUpdateReq": 5.0},
}
SESSION_CODES = ("OK_NewSessionEstablished", "OK_OldSessionJoined")
STOPPING = ("EVSE_Shutdown", "EVSE_EmergencyShutdown")
READY_PHASES = ("PreChargeRes", "PowerDeliveryRes", "CurrentDemandRes")
ISOLATED_PHASES = ("PreChargeRes", "CurrentDemandRes")  # PowerDelivery(stop) may already say Invalid
UNITS = (("Voltage", "V"), ("Current", "A"), ("Power", "W"), ("Energy", "Wh"), ("Time", "s"))


@dataclass(frozen=True)
class Violation:
    requirement: str
    detail: str

    def __str__(self) -> str:
        return f"{self.requirement}: {self.detail}"


class StrictCarViolation(EvLinkError):
    def __init__(self, violation: Violation):
        super().__init__(f"strict car: {violation}")
        self.violation = violation


def check_sdp(asked_security: int, response: v2gtp.SdpResponse) -> list[Violation]:
    out = []
    if response.port not in DYNAMIC_PORTS:
        out.append(Violation("SDP port is a dynamic port (49152-65535)", f"the SECC named port {response.port}"))
    if response.transport != v2gtp.SDP_TRANSPORT_TCP:
        out.append(Violation("SDP transport TCP", f"transport {response.transport:#04x}"))
    if response.security == v2gtp.SDP_SECURITY_TLS and asked_security != v2gtp.SDP_SECURITY_TLS:
        out.append(Violation("SDP security as asked", "TLS offered to a car that asked for none"))
    elif response.security not in (v2gtp.SDP_SECURITY_TLS, v2gtp.SDP_SECURITY_NONE):
        out.append(Violation("SDP security TLS or none", f"security {response.security:#04x}"))
    return out


def check_handshake(offered_schema_ids: list[int], code: str, schema_id: int | None) -> list[Violation]:
    if code.startswith("OK") and schema_id not in offered_schema_ids:
        return [Violation("handshake names an offered schema", f"{code} with SchemaID {schema_id}, "
                          f"offered {offered_schema_ids}")]
    if not code.startswith("OK") and code != "Failed_NoNegotiation":
        return [Violation("handshake response code", code)]
    return []


def check_response(schema: str, request: str, kind: str, response: Any, *, session_id: bytes | None = None,
                   expected_session_id: bytes | None = None, round_trip_s: float | None = None,
                   timing_scale: float = 1.0, stalled_s: float = 0.0) -> list[Violation]:
    """Everything a strict car checks in one decoded response (`kind`: its Body field name). `stalled_s`: of
    `round_trip_s`, the time the car's own process was not scheduled (hil/ev/process_stalls.py): not the SECC's."""
    out: list[Violation] = []
    if kind != request[:-3] + "Res":
        return [Violation("the response type of the request", f"{request} answered with {kind}")]
    code = response.ResponseCode.value
    if code in SESSION_CODES and kind != "SessionSetupRes":
        out.append(Violation("response code valid for the message", f"{kind} with {code}"))
    if expected_session_id and session_id != expected_session_id and code.startswith("OK"):
        out.append(Violation("the session's SessionID in every response",
                             f"{kind} carries {(session_id or b'').hex()}, not {expected_session_id.hex()}"))
    if round_trip_s is not None:
        limit = EV_TIMEOUTS_S.get(schema, {}).get(request, EV_TIMEOUT_S) * timing_scale
        if round_trip_s - stalled_s > limit:
            stalled = f" ({stalled_s:.3f} s of it the car's process stalled)" if stalled_s > 0 else ""
            out.append(Violation(f"answer within the EV's {request} timeout ({limit:g} s)",
                                 f"answered after {round_trip_s:.3f} s{stalled}"))
    if code.startswith("OK"):
        out += _check_status(kind, response)
        out += _check_contract_fields(kind, response)
    out += _check_physical_values(schema, response, kind)
    return out


def check_payment_options(options: list[str], *, tls: bool) -> list[Violation]:
    if "Contract" in options and not tls:
        return [Violation("Contract payment over TLS only", "ServiceDiscoveryRes offers Contract on plain TCP")]
    return []


def _check_contract_fields(kind: str, response: Any) -> list[Violation]:
    if kind == "PaymentDetailsRes" and len(response.GenChallenge or b"") != 16:
        return [Violation("GenChallenge of 16 bytes", f"{len(response.GenChallenge or b'')} bytes")]
    if kind == "CurrentDemandRes" and getattr(response, "ReceiptRequired", None) and response.MeterInfo is None:
        return [Violation("a receipt asked for names the MeterInfo to sign", "ReceiptRequired without MeterInfo")]
    return []


def _status(response: Any) -> Any:
    status = getattr(response, "DC_EVSEStatus", None)
    if status is None and getattr(response, "DC_EVSEChargeParameter", None) is not None:
        status = response.DC_EVSEChargeParameter.DC_EVSEStatus
    return status


def _check_status(kind: str, response: Any) -> list[Violation]:
    status = _status(response)
    if status is None:
        return []
    code = status.EVSEStatusCode.value
    isolation = status.EVSEIsolationStatus.value if status.EVSEIsolationStatus is not None else None
    stopping = code in STOPPING or status.EVSENotification.value == "StopCharging"
    if kind == "CableCheckRes" and not stopping:
        if response.EVSEProcessing.value == "Finished":
            if code != "EVSE_Ready" or isolation != "Valid":
                return [Violation("CableCheck Finished says EVSE_Ready with isolation Valid",
                                  f"{code}, isolation {isolation}")]
        elif code not in ("EVSE_IsolationMonitoringActive", "EVSE_Ready"):
            return [Violation("CableCheck Ongoing says EVSE_IsolationMonitoringActive", code)]
        return []
    if code == "EVSE_IsolationMonitoringActive":
        return [Violation("EVSE_IsolationMonitoringActive only during cable check", f"{kind} says it")]
    if kind in READY_PHASES and not stopping and code != "EVSE_Ready":
        return [Violation(f"{kind} says EVSE_Ready while charging goes on", code)]
    if kind in ISOLATED_PHASES and not stopping and isolation not in (None, "Valid", "Warning"):
        return [Violation(f"{kind}: isolation Valid once checked", f"isolation {isolation}")]
    return []


def _check_physical_values(schema: str, node: Any, path: str, depth: int = 0) -> list[Violation]:
    out: list[Violation] = []
    if depth > 6 or not dataclasses.is_dataclass(node):
        return out
    for fld in dataclasses.fields(node):
        value = getattr(node, fld.name)
        where = f"{path}.{fld.name}"
        if isinstance(value, list):
            for item in value:
                out += _check_physical_values(schema, item, where, depth + 1)
        elif type(value).__name__ == "PhysicalValue":
            out += _check_one_value(schema, fld.name, value, where)
        elif dataclasses.is_dataclass(value):
            out += _check_physical_values(schema, value, where, depth + 1)
    return out


def _check_one_value(schema: str, name: str, value: Any, where: str) -> list[Violation]:
    out = []
    if not -3 <= value.Multiplier <= 3:
        out.append(Violation("physical value multiplier -3..3", f"{where} multiplier {value.Multiplier}"))
    expected = next((unit for word, unit in UNITS if word in name), None)
    unit = value.Unit.value if value.Unit is not None else None
    if unit is None and schema != "din":
        out.append(Violation("physical value with its unit", f"{where} has none"))
    elif expected is not None and unit is not None and unit != expected:
        out.append(Violation("physical value in the unit of its quantity", f"{where} in {unit}, not {expected}"))
    return out
