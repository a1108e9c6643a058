"""ServiceDiscoveryReq and the payment/service selection that follows (DIN ServicePaymentSelection,
ISO-2 PaymentServiceSelection): one charge service, energy transfer modes per cable; external payment, and
(ISO-2 over TLS with MO roots to check a contract against) Contract payment for Plug & Charge."""
from __future__ import annotations

from dataclasses import replace

from controller.connector.ev_session import Answer
from controller.v2g.secc.context import SeccContext

CHARGE_SERVICE_ID = 1
OFFERED_SERVICE_IDS = (CHARGE_SERVICE_ID,)  # every ServiceID in our ServiceDiscoveryRes (no ServiceList yet)


def ask_discovery(ctx: SeccContext, req) -> Answer:
    return ctx.plain_answer()


def respond_discovery(ctx: SeccContext, answer: Answer, code):
    t = ctx.types
    payment = [t.PaymentOption.ExternalPayment]
    ctx.contract.offered = ctx.contract_possible()
    if ctx.contract.offered:
        payment = [t.PaymentOption.Contract, t.PaymentOption.ExternalPayment]
    if ctx.schema == "din":  # one EnergyTransferType in DIN: the cable's first (DC_extended for Teslas)
        service = t.ServiceCharge(
            ServiceTag=t.ServiceTag(ServiceID=CHARGE_SERVICE_ID, ServiceCategory=t.ServiceCategory.EVCharging),
            FreeService=False, EnergyTransferType=t.EVSESupportedEnergyTransfer(ctx.offer.energy_transfer_modes[0]))
        return t.ServiceDiscoveryRes(ResponseCode=code, PaymentOptions=t.PaymentOptions(PaymentOption=payment),
                                     ChargeService=service)
    service = t.ChargeService(
        ServiceID=CHARGE_SERVICE_ID, ServiceCategory=t.ServiceCategory.EVCharging, FreeService=False,
        SupportedEnergyTransferMode=t.SupportedEnergyTransferMode(
            EnergyTransferMode=[t.EnergyTransferMode(m) for m in ctx.offer.energy_transfer_modes]))
    return t.ServiceDiscoveryRes(ResponseCode=code, PaymentOptionList=t.PaymentOptionList(PaymentOption=payment),
                                 ChargeService=service)


def ask_selection(ctx: SeccContext, req) -> Answer:
    answer = ctx.plain_answer()
    contract = req.SelectedPaymentOption == ctx.types.PaymentOption.Contract and ctx.contract.offered
    if req.SelectedPaymentOption != ctx.types.PaymentOption.ExternalPayment and not contract:
        return _refused(answer, "FAILED_PaymentSelectionInvalid")
    if CHARGE_SERVICE_ID not in [s.ServiceID for s in req.SelectedServiceList.SelectedService]:
        return _refused(answer, "FAILED_ServiceSelectionInvalid")
    ctx.contract.selected = contract  # PaymentDetails and a signed Authorization follow
    return answer


def _refused(answer: Answer, code: str) -> Answer:
    return replace(answer, code=code)  # a protocol code the connector has no name for; respond() maps it


def respond_selection(ctx: SeccContext, answer: Answer, code):
    name = "ServicePaymentSelectionRes" if ctx.schema == "din" else "PaymentServiceSelectionRes"
    return getattr(ctx.types, name)(ResponseCode=code)
