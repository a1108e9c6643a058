"""The strict car's Plug & Charge checks: what a real car refuses (ISO 15118-2)."""
from __future__ import annotations

import pytest

from controller.formats.v2g.messages import iso2
from hil.ev.evcc.contract import CONTRACT_VARIANTS, car_contract
from hil.ev.evcc.strict import check_payment_options, check_response
from hil.pki.rig_pki import rig_pki

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("length, violations", [(16, 0), (8, 1), (0, 1)])
def test_a_gen_challenge_must_be_16_bytes(length, violations):
    response = iso2.PaymentDetailsRes(ResponseCode=iso2.ResponseCode.OK, GenChallenge=bytes(range(length)),
                                      EVSETimeStamp=0)
    found = check_response("iso2", "PaymentDetailsReq", "PaymentDetailsRes", response)
    assert len(found) == violations and all("GenChallenge of 16 bytes" in str(v) for v in found)


def test_contract_payment_on_plain_tcp_is_refused():
    assert check_payment_options(["Contract", "ExternalPayment"], tls=False)
    assert not check_payment_options(["Contract", "ExternalPayment"], tls=True)
    assert not check_payment_options(["ExternalPayment"], tls=False)


def test_a_receipt_asked_for_without_meter_info_is_refused():
    status = iso2.DC_EVSEStatus(NotificationMaxDelay=0, EVSENotification=iso2.EVSENotification.None_,
                                EVSEIsolationStatus=iso2.IsolationLevel.Valid,
                                EVSEStatusCode=iso2.DC_EVSEStatusCode.EVSE_Ready)
    volts = iso2.PhysicalValue(Multiplier=0, Unit=iso2.UnitSymbol.V, Value=400)
    amps = iso2.PhysicalValue(Multiplier=0, Unit=iso2.UnitSymbol.A, Value=10)
    response = iso2.CurrentDemandRes(ResponseCode=iso2.ResponseCode.OK, DC_EVSEStatus=status,
                                     EVSEPresentVoltage=volts, EVSEPresentCurrent=amps,
                                     EVSECurrentLimitAchieved=False, EVSEVoltageLimitAchieved=False,
                                     EVSEPowerLimitAchieved=False, EVSEID="US*EVSE*E1", SAScheduleTupleID=1,
                                     ReceiptRequired=True)
    found = check_response("iso2", "CurrentDemandReq", "CurrentDemandRes", response)
    assert [v.requirement for v in found] == ["a receipt asked for names the MeterInfo to sign"]


def test_the_car_contracts_are_the_rig_pkis():
    pki = rig_pki()
    valid = car_contract("valid")
    assert valid.emaid == pki.emaid and valid.signing_key is pki.contract.key
    assert car_contract("bad-signature").signing_key is not pki.contract.key
    assert car_contract("untrusted").leaf_der != valid.leaf_der
    assert set(CONTRACT_VARIANTS) == {"valid", "expired", "untrusted", "bad-signature", "expiring"}
    with pytest.raises(ValueError, match="unknown contract 'x'"):
        car_contract("x")


def test_the_car_renews_only_a_contract_still_valid_but_ending_within_its_window():
    from hil.ev.evcc.contract import expires_within
    expiring = car_contract("expiring")  # the rig's eMAID and MO chain, a leaf of its own that ends in 5 days
    assert expiring.emaid == rig_pki().emaid and expiring.leaf_der != car_contract("valid").leaf_der
    assert expires_within(expiring, 7.0) and not expires_within(expiring, 4.0)
    assert not expires_within(car_contract("valid"), 7.0)  # two years left
    assert not expires_within(car_contract("expired"), 7.0)  # too late to update: the station refuses it
