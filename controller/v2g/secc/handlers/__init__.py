"""One handler per request type: `ask(ctx, req) -> Answer` (the connector's EV-session call) and
`respond(ctx, answer, code) -> the response body`. The session looks them up here by request name.
A handler without `ask` is for a request that is never in sequence with us: the session answers it
FAILED_SequenceError in the proper response type."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from typing import Callable

from controller.v2g.secc.context import MESSAGE_TYPES
from controller.v2g.secc.handlers import (authorization, cable_check, charge_parameter_discovery, current_demand,
                                          plug_and_charge, power_delivery, precharge, service_detail,
                                          service_selection, session_setup, session_stop, unsupported,
                                          welding_detection)
from controller.v2g.secc.handlers import contract_authorization, metering_receipt, payment_details


@dataclass(frozen=True)
class Handler:
    response: str            # the Body field of the answer, e.g. "CurrentDemandRes"
    ask: Callable | None
    respond: Callable
    # (ctx, provider, raw EXI request) -> raw EXI answer or None: for requests answered by someone else
    # (the contract certificate provider), whose answer goes to the car as it is; None: `respond` FAILED
    forward: Callable | None = None


def _common(authorization_req: str, authorization_res: str, selection_req: str, selection_res: str) -> dict:
    return {
        "SessionSetupReq": Handler("SessionSetupRes", session_setup.ask, session_setup.respond),
        "ServiceDiscoveryReq": Handler("ServiceDiscoveryRes", service_selection.ask_discovery,
                                       service_selection.respond_discovery),
        selection_req: Handler(selection_res, service_selection.ask_selection, service_selection.respond_selection),
        authorization_req: Handler(authorization_res, authorization.ask, authorization.respond),
        "ChargeParameterDiscoveryReq": Handler("ChargeParameterDiscoveryRes", charge_parameter_discovery.ask,
                                               charge_parameter_discovery.respond),
        "CableCheckReq": Handler("CableCheckRes", cable_check.ask, cable_check.respond),
        "PreChargeReq": Handler("PreChargeRes", precharge.ask, precharge.respond),
        "PowerDeliveryReq": Handler("PowerDeliveryRes", power_delivery.ask, power_delivery.respond),
        "CurrentDemandReq": Handler("CurrentDemandRes", current_demand.ask, current_demand.respond),
        "WeldingDetectionReq": Handler("WeldingDetectionRes", welding_detection.ask, welding_detection.respond),
        "SessionStopReq": Handler("SessionStopRes", session_stop.ask, session_stop.respond),
    }


HANDLERS: dict[str, dict[str, Handler]] = {
    "din": _common("ContractAuthenticationReq", "ContractAuthenticationRes",
                   "ServicePaymentSelectionReq", "ServicePaymentSelectionRes"),
    "iso2": {
        **_common("AuthorizationReq", "AuthorizationRes", "PaymentServiceSelectionReq", "PaymentServiceSelectionRes"),
        "ServiceDetailReq": Handler("ServiceDetailRes", service_detail.ask, service_detail.respond),
        "PaymentDetailsReq": Handler("PaymentDetailsRes", payment_details.ask, payment_details.respond),
        "AuthorizationReq": Handler("AuthorizationRes", contract_authorization.ask, contract_authorization.respond),
        "MeteringReceiptReq": Handler("MeteringReceiptRes", metering_receipt.ask, metering_receipt.respond),
        "CertificateInstallationReq": Handler("CertificateInstallationRes", None,
                                              plug_and_charge.respond_certificate_installation,
                                              plug_and_charge.forward_certificate_installation),
        "CertificateUpdateReq": Handler("CertificateUpdateRes", None, plug_and_charge.respond_certificate_update,
                                        plug_and_charge.forward_certificate_update),
    },
}



def _refused(types_module, served: dict) -> dict:
    """Every other request the schema's Body can carry: never in sequence, refused in its own response type."""
    kinds = [f.name for f in dataclasses.fields(types_module.Body) if f.name.endswith("Req") and f.name not in served]
    return {kind: Handler(unsupported.response_name(kind), None,
                          partial(unsupported.respond, response=unsupported.response_name(kind))) for kind in kinds}


for _schema, _types in MESSAGE_TYPES.items():
    HANDLERS[_schema].update(_refused(_types, HANDLERS[_schema]))

# What may come after what in the opening (before the connector's state decides) is in the one table of
# request order, controller/connector/request_order.py.
