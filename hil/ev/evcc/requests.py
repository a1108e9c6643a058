"""The car's requests, DIN or ISO-2, from the small ops the car's sequence uses (see hil/ev/car.py)."""
from __future__ import annotations

from typing import Any

from controller.formats.v2g.messages import din, iso2
from controller.formats.v2g.physical_value import physical
from hil.ev.evcc.contract import CarContract, signature
from hil.ev.evcc.profile import CarProfile

TYPES = {"din": din, "iso2": iso2}
SIGNED = ("AuthorizationReq", "MeteringReceiptReq")  # signed with the contract key in a Contract session


class RequestBuilder:
    def __init__(self, schema: str, profile: CarProfile):
        self.schema = schema
        self.t = TYPES[schema]
        self.profile = profile
        self.session_id = b"\x00" if profile.one_byte_session_id else bytes(8)
        self.soc = 0.0
        self.schedule_tuple_id = 1
        self.contract: CarContract | None = None  # Plug & Charge: the car holds a contract (ISO-2 over TLS)
        self.pay_by_contract = False  # the car chose Contract (the SECC offered it)
        self.gen_challenge: bytes | None = None  # from PaymentDetailsRes, signed back in AuthorizationReq

    def message(self, name: str, body: Any) -> Any:
        t = self.t
        header = t.MessageHeader(SessionID=self.session_id)
        if self.pay_by_contract and name in SIGNED and getattr(body, "Id", None):
            header.Signature = signature(self.contract.signing_key, name, body)
        return t.V2G_Message(Header=header, Body=t.Body(**{name: body}))

    def ev_status(self) -> Any:
        t = self.t
        soc = max(0, min(100, round(self.soc)))
        return t.DC_EVStatus(EVReady=True, EVErrorCode=t.DC_EVErrorCode.NO_ERROR, EVRESSSOC=soc)

    def pv(self, value: float, unit: str) -> Any:
        return physical(self.t, value, unit)

    # ---- one method per request -------------------------------------------------------------------------
    def session_setup(self, evcc_id: str) -> tuple[str, Any]:
        return "SessionSetupReq", self.t.SessionSetupReq(EVCCID=bytes.fromhex(evcc_id))

    def service_discovery(self) -> tuple[str, Any]:
        return "ServiceDiscoveryReq", self.t.ServiceDiscoveryReq(ServiceCategory=self.t.ServiceCategory.EVCharging)

    def service_detail(self, service_id: int) -> tuple[str, Any]:
        return "ServiceDetailReq", self.t.ServiceDetailReq(ServiceID=service_id)

    def payment_selection(self) -> tuple[str, Any]:
        t = self.t
        services = t.SelectedServiceList(SelectedService=[t.SelectedService(ServiceID=1)])
        if self.schema == "din":
            return "ServicePaymentSelectionReq", t.ServicePaymentSelectionReq(
                SelectedPaymentOption=t.PaymentOption.ExternalPayment, SelectedServiceList=services)
        option = t.PaymentOption.Contract if self.pay_by_contract else t.PaymentOption.ExternalPayment
        return "PaymentServiceSelectionReq", t.PaymentServiceSelectionReq(
            SelectedPaymentOption=option, SelectedServiceList=services)

    def payment_details(self) -> tuple[str, Any]:
        t, contract = self.t, self.contract
        subs = t.SubCertificates(Certificate=list(contract.sub_ca_ders)) if contract.sub_ca_ders else None
        return "PaymentDetailsReq", t.PaymentDetailsReq(eMAID=contract.emaid, ContractSignatureCertChain=t.CertificateChain(
            Id="id1", Certificate=contract.leaf_der, SubCertificates=subs))

    def authorize(self) -> tuple[str, Any]:
        if self.schema == "din":
            return "ContractAuthenticationReq", self.t.ContractAuthenticationReq()
        if self.pay_by_contract:  # signed in message(): the car proves it holds the contract key
            return "AuthorizationReq", self.t.AuthorizationReq(Id="ID1", GenChallenge=self.gen_challenge)
        return "AuthorizationReq", self.t.AuthorizationReq()

    def metering_receipt(self, meter_info: Any) -> tuple[str, Any]:
        """The receipt for the MeterInfo of a CurrentDemandRes that asked for one (signed in message())."""
        return "MeteringReceiptReq", self.t.MeteringReceiptReq(
            Id="ID2", SessionID=self.session_id, SAScheduleTupleID=self.schedule_tuple_id, MeterInfo=meter_info)

    def charge_parameters(self, max_voltage_v: float, max_current_a: float, soc_percent: float,
                          energy_capacity_wh: float | None = None, max_power_w: float | None = None,
                          energy_request_wh: float | None = None) -> tuple[str, Any]:
        t = self.t
        self.soc = soc_percent
        parameters = t.DC_EVChargeParameter(
            DC_EVStatus=self.ev_status(), EVMaximumCurrentLimit=self.pv(max_current_a, "A"),
            EVMaximumPowerLimit=None if max_power_w is None else self.pv(max_power_w, "W"),
            EVMaximumVoltageLimit=self.pv(max_voltage_v, "V"),
            EVEnergyCapacity=None if energy_capacity_wh is None else self.pv(energy_capacity_wh, "Wh"),
            EVEnergyRequest=None if energy_request_wh is None else self.pv(energy_request_wh, "Wh"))
        if self.schema == "din":
            return "ChargeParameterDiscoveryReq", t.ChargeParameterDiscoveryReq(
                EVRequestedEnergyTransferType=t.EVRequestedEnergyTransfer(self.profile.energy_transfer_mode),
                DC_EVChargeParameter=parameters)
        return "ChargeParameterDiscoveryReq", t.ChargeParameterDiscoveryReq(
            RequestedEnergyTransferMode=t.EnergyTransferMode(self.profile.energy_transfer_mode),
            DC_EVChargeParameter=parameters)

    def cable_check(self) -> tuple[str, Any]:
        return "CableCheckReq", self.t.CableCheckReq(DC_EVStatus=self.ev_status())

    def precharge(self, target_voltage_v: float, target_current_a: float) -> tuple[str, Any]:
        return "PreChargeReq", self.t.PreChargeReq(DC_EVStatus=self.ev_status(),
                                                   EVTargetVoltage=self.pv(target_voltage_v, "V"),
                                                   EVTargetCurrent=self.pv(target_current_a, "A"))

    def power_delivery(self, start: bool) -> tuple[str, Any]:
        t = self.t
        parameter = t.DC_EVPowerDeliveryParameter(DC_EVStatus=self.ev_status(), ChargingComplete=not start)
        if self.schema == "din":
            return "PowerDeliveryReq", t.PowerDeliveryReq(ReadyToChargeState=start,
                                                          DC_EVPowerDeliveryParameter=parameter)
        return "PowerDeliveryReq", t.PowerDeliveryReq(
            ChargeProgress=t.ChargeProgress.Start if start else t.ChargeProgress.Stop,
            SAScheduleTupleID=self.schedule_tuple_id, DC_EVPowerDeliveryParameter=parameter)

    def current_demand(self, target_voltage_v: float, target_current_a: float, soc_percent: float,
                       charging_complete: bool = False, max_voltage_v: float | None = None,
                       max_current_a: float | None = None, max_power_w: float | None = None) -> tuple[str, Any]:
        self.soc = soc_percent
        opt = lambda value, unit: None if value is None else self.pv(value, unit)  # noqa: E731
        return "CurrentDemandReq", self.t.CurrentDemandReq(
            DC_EVStatus=self.ev_status(), EVTargetCurrent=self.pv(target_current_a, "A"),
            EVMaximumVoltageLimit=opt(max_voltage_v, "V"), EVMaximumCurrentLimit=opt(max_current_a, "A"),
            EVMaximumPowerLimit=opt(max_power_w, "W"), ChargingComplete=charging_complete,
            EVTargetVoltage=self.pv(target_voltage_v, "V"))

    def welding_detection(self) -> tuple[str, Any]:
        return "WeldingDetectionReq", self.t.WeldingDetectionReq(DC_EVStatus=self.ev_status())

    def session_stop(self) -> tuple[str, Any]:
        if self.schema == "din":
            return "SessionStopReq", self.t.SessionStop()
        return "SessionStopReq", self.t.SessionStopReq(ChargingSession=self.t.ChargingSession.Terminate)
