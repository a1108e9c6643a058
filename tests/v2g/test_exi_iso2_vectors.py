"""ISO 15118-2 interoperability: payloads produced by other EXI codecs decode to the values those projects
published and re-encode to the same bytes.

The vectors are public test data of open V2G projects (an EXI codec's integration tests, and messages from
the dsV2Gshark example capture of a real DC session). They pin what no self-consistent round trip can:
event-code numbering, e.g. that the abstract BodyElement keeps its production in the Body grammar.
"""

from __future__ import annotations

from typing import Any

import pytest

from controller.formats.v2g import exi

pytestmark = pytest.mark.timeout(30)

HEADER = {"SessionID": "37da98f73608903e"}
STATUS_READY = {"NotificationMaxDelay": 0, "EVSENotification": "None", "EVSEIsolationStatus": "Valid",
                "EVSEStatusCode": "EVSE_Ready"}
EV_STATUS = {"EVReady": True, "EVErrorCode": "NO_ERROR", "EVRESSSOC": 60}


def _pv(multiplier: int, unit: str, value: int) -> dict[str, Any]:
    return {"Multiplier": multiplier, "Unit": unit, "Value": value}


VECTORS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("8098020df6a63dcd82240f91e02031552cc4c8cd14c4c8ccd01814d1d280c0",
     "SessionSetupRes", {"ResponseCode": "OK_NewSessionEstablished", "EVSEID": "UK123E1234",
                         "EVSETimeStamp": 1652790080}),
    ("8098020df6a63dcd82240f91c0012004041050d7d110d7d0da185c99da5b99c0406480",
     "ServiceDiscoveryRes", {"ResponseCode": "OK", "PaymentOptionList": {"PaymentOption": ["ExternalPayment"]},
                             "ChargeService": {"ServiceID": 1, "ServiceName": "AC_DC_Charging",
                                               "ServiceCategory": "EVCharging", "FreeService": False,
                                               "SupportedEnergyTransferMode": {"EnergyTransferMode": ["DC_extended"]}}}),
    ("8098020df6a63dcd82240f914000", "PaymentServiceSelectionRes", {"ResponseCode": "OK"}),
    ("8098020df6a63dcd82240f90100000", "AuthorizationRes", {"ResponseCode": "OK", "EVSEProcessing": "Finished"}),
    ("8098020df6a63dcd82240f9040000000204000", "CableCheckRes",
     {"ResponseCode": "OK", "DC_EVSEStatus": STATUS_READY, "EVSEProcessing": "Finished"}),
    ("8098020df6a63dcd82240f91800000002040c40e601000", "PreChargeRes",
     {"ResponseCode": "OK", "DC_EVSEStatus": STATUS_READY, "EVSEPresentVoltage": _pv(0, "V", 230)}),
    ("8098020df6a63dcd82240f91600400001020", "PowerDeliveryRes", {"ResponseCode": "OK", "DC_EVSEStatus": STATUS_READY}),
    ("8098020df6a63dcd82240f90e00000002040c40e601030c0042220310360100618560101050e80700c554b3132334531323334000400",
     "CurrentDemandRes", {"ResponseCode": "OK", "DC_EVSEStatus": STATUS_READY, "EVSEPresentVoltage": _pv(0, "V", 230),
                          "EVSEPresentCurrent": _pv(0, "A", 1), "EVSECurrentLimitAchieved": True,
                          "EVSEVoltageLimitAchieved": True, "EVSEPowerLimitAchieved": True,
                          "EVSEMaximumVoltageLimit": _pv(0, "V", 600), "EVSEMaximumCurrentLimit": _pv(0, "A", 300),
                          "EVSEMaximumPowerLimit": _pv(1, "W", 1000), "EVSEID": "UK123E1234",
                          "SAScheduleTupleID": 1, "ReceiptRequired": False}),
    ("8098020df6a63dcd82240f92200000002040c40e601000", "WeldingDetectionRes",
     {"ResponseCode": "OK", "DC_EVSEStatus": STATUS_READY, "EVSEPresentVoltage": _pv(0, "V", 230)}),
    ("8098020df6a63dcd82240f920000", "SessionStopRes", {"ResponseCode": "OK"}),
    ("8098020df6a63dcd82240f91b8", "ServiceDiscoveryReq", {}),
    ("8098020df6a63dcd82240f9132001280", "PaymentServiceSelectionReq",
     {"SelectedPaymentOption": "ExternalPayment", "SelectedServiceList": {"SelectedService": [{"ServiceID": 1}]}}),
    ("8098020df6a63dcd82240f9008", "AuthorizationReq", {}),
    ("8098020df6a63dcd82240f9094c8000800f0003080fa01020a1807c082014008306c1b00830781702d050000",
     "ChargeParameterDiscoveryReq", {"RequestedEnergyTransferMode": "DC_extended", "DC_EVChargeParameter": {
         "DepartureTime": 0, "DC_EVStatus": EV_STATUS, "EVMaximumCurrentLimit": _pv(-3, "A", 32000),
         "EVMaximumPowerLimit": _pv(1, "W", 8000), "EVMaximumVoltageLimit": _pv(1, "V", 40),
         "EVEnergyCapacity": _pv(1, "Wh", 7000), "EVEnergyRequest": _pv(1, "Wh", 6000), "FullSOC": 90,
         "BulkSOC": 80}}),
    ("8098020df6a63dcd82240f9031001e00", "CableCheckReq", {"DC_EVStatus": EV_STATUS}),
    ("8098020df6a63dcd82240f9171001e018812006061800800", "PreChargeReq",
     {"DC_EVStatus": EV_STATUS, "EVTargetVoltage": _pv(0, "V", 400), "EVTargetCurrent": _pv(0, "A", 1)}),
    ("8098020df6a63dcd82240f90d1001e01860021006101f4020414300f80003081900610280188120060", "CurrentDemandReq",
     {"DC_EVStatus": EV_STATUS, "EVTargetCurrent": _pv(0, "A", 1), "EVMaximumCurrentLimit": _pv(-3, "A", 32000),
      "EVMaximumPowerLimit": _pv(1, "W", 8000), "BulkChargingComplete": False, "ChargingComplete": False,
      "RemainingTimeToFullSoC": _pv(0, "s", 100), "RemainingTimeToBulkSoC": _pv(0, "s", 80),
      "EVTargetVoltage": _pv(0, "V", 400)}),
    ("8098020df6a63dcd82240f915000022003c140", "PowerDeliveryReq",
     {"ChargeProgress": "Start", "SAScheduleTupleID": 1,
      "DC_EVPowerDeliveryParameter": {"DC_EVStatus": EV_STATUS, "ChargingComplete": True}}),
    ("8098020df6a63dcd82240f9211001e00", "WeldingDetectionReq", {"DC_EVStatus": EV_STATUS}),
    ("8098020df6a63dcd82240f91f000", "SessionStopReq", {"ChargingSession": "Terminate"}),
    # From a real DC session (dsV2Gshark example capture): other session ID, so only type and bytes are checked.
    ("809802275de64d834b5d1f11e020256968c0c0c0c0c080", "SessionSetupRes", None),
    ("809802275de64d834b5d1f10e00000002040840861d000c000000021024138041844138105098750095a5a30303030300008",
     "CurrentDemandRes", None),
]

# A ChargeParameterDiscoveryRes with an xmldsig Signature over its SalesTariff.
SIGNED_RES = (
    "8098020df6a63dcd82240f8a895a1d1d1c0e8bcbddddddcb9dcccb9bdc99cbd5148bd8d85b9bdb9a58d85b0b595e1a4bd0d5a1d1d1c0e8"
    "bcbddddddcb9dcccb9bdc99cbcc8c0c0c4bcc0d0bde1b5b191cda59cb5b5bdc9948d958d91cd84b5cda184c8d4d910311b4b218812b43a3"
    "a381d1797bbbbbb973b999737b93397aa2917b1b0b737b734b1b0b616b2bc3497a429687474703a2f2f7777772e77332e6f72672f323030"
    "312f30342f786d6c656e632373686132353642014e3d87ae2424b6c305fd5f18a24fe2f2f687cd658d59bbe51a7ce3f5cf086f0128c6088"
    "0440ad45013e7aa4744a6e6453cad9eb6a96ed1b07e44286bce1ae4ce99f8a8e5132044038f219bbed1e06b94024a1798bed853ff191b6"
    "c647027f019db7544172e5b01682800000000000901c03143e154200ad2c862049010000400902243821c380045286400102081802020a1"
    "cc020820020206004082002090300410")


@pytest.mark.parametrize(("hex_payload", "name", "fields"), VECTORS, ids=[f"{i}-{v[1]}" for i, v in enumerate(VECTORS)])
def test_iso2_vector(hex_payload: str, name: str, fields: dict[str, Any] | None) -> None:
    payload = bytes.fromhex(hex_payload)
    message = exi.decode("iso2", payload)
    assert exi.message_type(message) == name
    if fields is not None:
        assert exi.to_json(message) == {"Header": HEADER, "Body": {name: fields}}
    assert exi.encode("iso2", message) == payload


def test_signed_charge_parameter_discovery_res() -> None:
    payload = bytes.fromhex(SIGNED_RES)
    message = exi.decode("iso2", payload)
    signature = exi.to_json(message)["Header"]["Signature"]
    info = signature["SignedInfo"]
    assert info["CanonicalizationMethod"] == {"Algorithm": "http://www.w3.org/TR/canonical-exi/"}
    assert info["SignatureMethod"] == {"Algorithm": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"}
    assert info["Reference"] == [{"URI": "#id1",
                                  "Transforms": {"Transform": [{"Algorithm": "http://www.w3.org/TR/canonical-exi/"}]},
                                  "DigestMethod": {"Algorithm": "http://www.w3.org/2001/04/xmlenc#sha256"},
                                  "DigestValue": "14e3d87ae2424b6c305fd5f18a24fe2f2f687cd658d59bbe51a7ce3f5cf086f0"}]
    assert signature["SignatureValue"]["content"].startswith("3044022056a2809f")
    tariff = message.Body.ChargeParameterDiscoveryRes.SAScheduleList.SAScheduleTuple[0].SalesTariff
    assert (tariff.Id, tariff.SalesTariffID, tariff.NumEPriceLevels) == ("id1", 10, 2)
    assert [e.RelativeTimeInterval.start for e in tariff.SalesTariffEntry] == [0, 1801]
    assert exi.encode("iso2", message) == payload
