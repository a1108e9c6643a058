"""ISO-2 ServiceDetailReq at the SECC: details of an offered service, an unknown ServiceID, the order
ServiceDiscovery -> ServiceDetail* -> PaymentServiceSelection; DIN has no ServiceDetail. And the Plug & Charge
requests we do not build: Contract payment is refused at selection, PaymentDetails and the certificate requests
get their own response type with FAILED_SequenceError."""
from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from controller.formats.v2g import exi
from controller.formats.v2g.messages import iso2
from controller.v2g.secc.handlers import HANDLERS
from controller.v2g.secc.handlers.service_selection import CHARGE_SERVICE_ID, OFFERED_SERVICE_IDS
from hil.ev.evcc.link import listed_service_ids
from hil.ev.evcc.profile import load_profile
from tests.v2g.test_secc_session import Bench

pytestmark = pytest.mark.timeout(30)

UNKNOWN_SERVICE_ID = 3  # the standard's Internet service: we do not offer it


def run(coro):
    return asyncio.run(coro)


async def _discovered(bench: Bench):
    await bench.handshake()
    await bench.ask("session_setup", evcc_id="0465650064c3")
    return await bench.ask("service_discovery")


async def _send(bench: Bench, name: str, body):
    """A request the car's RequestBuilder has no op for; the response body, or None when nothing was sent."""
    out = await bench.session.on_message(exi.encode("iso2", bench.car.message(name, body)))
    if out is None:
        return None
    message = exi.decode("iso2", out)
    return getattr(message.Body, exi.message_type(message))


async def _charge(bench: Bench) -> list[str]:
    """From authorization to the first CurrentDemand (fake drivers, as in test_secc_phases); the response codes."""
    answers = [await bench.ask("authorize"),
               await bench.ask("charge_parameters", max_voltage_v=420, max_current_a=150, soc_percent=30)]
    bench.cp("C")
    await bench.ask("cable_check")
    bench.settle(5)  # contactors closed, test voltage applied
    bench.board.status = replace(bench.board.status, cable_voltage_v=bench.group.setpoint[0])
    bench.settle(40)  # held while the IMD reads at test voltage, then discharged
    bench.board.status = replace(bench.board.status, cable_voltage_v=10.0)
    bench.settle(5)
    answers += [await bench.ask("cable_check"),
                await bench.ask("precharge", target_voltage_v=380.0, target_current_a=2.0)]
    bench.board.status = replace(bench.board.status, cable_voltage_v=378.0)  # the output reached the target
    answers += [await bench.ask("power_delivery", start=True),
                await bench.ask("current_demand", target_voltage_v=400.0, target_current_a=100.0, soc_percent=31)]
    return [a.ResponseCode.value for a in answers]


# ---- what we offer --------------------------------------------------------------------------------------------
def test_offered_service_ids_are_those_in_service_discovery_res():
    async def go():
        bench = Bench("iso2")
        return await _discovered(bench)
    discovery = run(go())
    assert listed_service_ids(discovery) == list(OFFERED_SERVICE_IDS) == [CHARGE_SERVICE_ID]


# ---- ServiceDetail --------------------------------------------------------------------------------------------
def test_detail_of_the_charge_service_is_ok_and_the_session_goes_on_to_charge():
    async def go():
        bench = Bench("iso2")
        await _discovered(bench)
        first = await bench.ask("service_detail", service_id=CHARGE_SERVICE_ID)
        again = await bench.ask("service_detail", service_id=CHARGE_SERVICE_ID)  # may repeat
        selection = await bench.ask("payment_selection")
        return bench, first, again, selection, await _charge(bench)
    bench, first, again, selection, codes = run(go())
    for detail in (first, again):
        assert detail.ResponseCode == iso2.ResponseCode.OK and detail.ServiceID == CHARGE_SERVICE_ID
        assert detail.ServiceParameterList is None  # the charge service has no parameter sets
    assert selection.ResponseCode.value == "OK"
    assert codes == ["OK"] * 6 and bench.conn.state == "charging"
    assert not bench.connection.closed and bench.faults == []


def test_unknown_service_id_is_refused_and_the_session_closes():
    async def go():
        bench = Bench("iso2")
        await _discovered(bench)
        answer = await bench.ask("service_detail", service_id=UNKNOWN_SERVICE_ID)
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode == iso2.ResponseCode.FAILED_ServiceIDInvalid
    assert answer.ServiceID == UNKNOWN_SERVICE_ID and answer.ServiceParameterList is None
    assert bench.connection.closed and "ServiceDetailRes FAILED_ServiceIDInvalid" in bench.connection.close_reason


@pytest.mark.parametrize("after", ["session_setup", "payment_selection", "authorize"])
def test_service_detail_out_of_order_is_a_sequence_error(after):
    async def go():
        bench = Bench("iso2")
        await bench.handshake()
        await bench.ask("session_setup", evcc_id="0465650064c3")
        if after != "session_setup":
            await bench.ask("service_discovery")
            await bench.ask("payment_selection")
        if after == "authorize":
            await bench.ask("authorize")
        answer = await bench.ask("service_detail", service_id=CHARGE_SERVICE_ID)
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode == iso2.ResponseCode.FAILED_SequenceError
    assert bench.connection.closed and "EV_SEQUENCE_ERROR" in bench.faults


@pytest.mark.parametrize("then", ["service_discovery", "authorize"])
def test_after_service_detail_only_detail_or_payment_selection(then):
    async def go():
        bench = Bench("iso2")
        await _discovered(bench)
        await bench.ask("service_detail", service_id=CHARGE_SERVICE_ID)
        answer = await bench.ask(then)
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode == iso2.ResponseCode.FAILED_SequenceError
    assert bench.connection.closed and "EV_SEQUENCE_ERROR" in bench.faults


def test_din_has_no_service_detail():
    async def go():
        bench = Bench("din")
        await bench.handshake()
        await bench.ask("session_setup", evcc_id="0465650064c3")
        await bench.ask("service_discovery")
        answer = await bench.ask("service_detail", service_id=CHARGE_SERVICE_ID)
        return bench, answer
    bench, answer = run(go())
    assert HANDLERS["din"]["ServiceDetailReq"].ask is None  # DIN's schema has it; a DC session never uses it
    assert answer.ResponseCode.value == "FAILED_SequenceError" and type(answer).__name__ == "ServiceDetailRes"
    assert "EV_SEQUENCE_ERROR" in bench.faults


# ---- Plug & Charge is not built -------------------------------------------------------------------------------
def test_contract_payment_is_refused_at_payment_selection():
    async def go():
        bench = Bench("iso2")
        await _discovered(bench)
        answer = await _send(bench, "PaymentServiceSelectionReq", iso2.PaymentServiceSelectionReq(
            SelectedPaymentOption=iso2.PaymentOption.Contract,
            SelectedServiceList=iso2.SelectedServiceList(SelectedService=[iso2.SelectedService(ServiceID=1)])))
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert answer.ResponseCode == iso2.ResponseCode.FAILED_PaymentSelectionInvalid
    assert bench.connection.closed


PLUG_AND_CHARGE_REQUESTS = {
    "PaymentDetailsReq": iso2.PaymentDetailsReq(
        eMAID="ZZ000000000001", ContractSignatureCertChain=iso2.CertificateChain(Certificate=b"\x30\x82")),
    "CertificateInstallationReq": iso2.CertificateInstallationReq(
        Id="id1", OEMProvisioningCert=b"\x30\x82", ListOfRootCertificateIDs=iso2.ListOfRootCertificateIDs(
            RootCertificateID=[iso2.X509IssuerSerial(X509IssuerName="CN=V2GRootCA", X509SerialNumber=1)])),
    "CertificateUpdateReq": iso2.CertificateUpdateReq(
        Id="id1", ContractSignatureCertChain=iso2.CertificateChain(Certificate=b"\x30\x82"), eMAID="ZZ000000000001",
        ListOfRootCertificateIDs=iso2.ListOfRootCertificateIDs(
            RootCertificateID=[iso2.X509IssuerSerial(X509IssuerName="CN=V2GRootCA", X509SerialNumber=1)])),
}


@pytest.mark.parametrize("name", sorted(PLUG_AND_CHARGE_REQUESTS))
def test_plug_and_charge_request_gets_its_response_failed_sequence_error(name):
    async def go():
        bench = Bench("iso2")
        await bench.open_session()  # ExternalPayment selected: no Plug & Charge request is in sequence
        answer = await _send(bench, name, PLUG_AND_CHARGE_REQUESTS[name])
        await asyncio.sleep(0)
        return bench, answer
    bench, answer = run(go())
    assert type(answer).__name__ == name[:-3] + "Res"
    assert answer.ResponseCode == iso2.ResponseCode.FAILED_SequenceError
    assert bench.connection.closed and "EV_SEQUENCE_ERROR" in bench.faults
    assert bench.conn.state == "error_shutdown"


def test_service_details_profile_key_is_off_by_default():
    assert load_profile("iso2_service_detail").service_details
    assert not load_profile("iso2").service_details
