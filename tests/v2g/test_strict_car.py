"""The strict car's checks (hil/ev/evcc/strict.py): each one fires on a deliberately wrong answer, names the
requirement it enforces, and stays quiet on a right one."""
from __future__ import annotations

import ipaddress

import pytest

from controller.formats.v2g import v2gtp
from controller.formats.v2g.messages import din, iso2
from hil.ev.evcc.strict import check_handshake, check_response, check_sdp

pytestmark = pytest.mark.timeout(30)

ADDRESS = ipaddress.IPv6Address("fe80::1").packed
SESSION = bytes.fromhex("0102030405060708")
TYPES = {"din": din, "iso2": iso2}


def pv(t, value: int, unit: str | None, multiplier: int = 0):
    return t.PhysicalValue(Multiplier=multiplier, Unit=None if unit is None else t.UnitSymbol(unit), Value=value)


def status(t, code="EVSE_Ready", isolation="Valid", notification="None"):
    return t.DC_EVSEStatus(EVSEIsolationStatus=None if isolation is None else t.IsolationLevel(isolation),
                           EVSEStatusCode=t.DC_EVSEStatusCode(code), NotificationMaxDelay=0,
                           EVSENotification=t.EVSENotification(notification))


def cable_check(t, processing, **kw):
    return t.CableCheckRes(ResponseCode=t.ResponseCode("OK"), DC_EVSEStatus=status(t, **kw),
                           EVSEProcessing=t.EVSEProcessing(processing))


def current_demand(t, code="OK", voltage=None, **kw):
    extra = {"EVSEID": "US*EVSE*1", "SAScheduleTupleID": 1} if t is iso2 else {}
    return t.CurrentDemandRes(ResponseCode=t.ResponseCode(code), DC_EVSEStatus=status(t, **kw),
                              EVSEPresentVoltage=voltage or pv(t, 4000, "V", -1),
                              EVSEPresentCurrent=pv(t, 1000, "A", -1), EVSECurrentLimitAchieved=False,
                              EVSEVoltageLimitAchieved=False, EVSEPowerLimitAchieved=False, **extra)


def requirements(violations) -> list[str]:
    return [v.requirement for v in violations]


# ---- SDP -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("port, ok", [(35955, False), (49151, False), (49152, True), (65535, True)])
def test_sdp_port_must_be_dynamic(port, ok):
    found = check_sdp(v2gtp.SDP_SECURITY_NONE, v2gtp.SdpResponse(ADDRESS, port))
    assert requirements(found) == ([] if ok else ["SDP port is a dynamic port (49152-65535)"])


def test_sdp_tls_only_when_asked_and_tcp_only():
    unasked = v2gtp.SdpResponse(ADDRESS, 50000, v2gtp.SDP_SECURITY_TLS)
    assert requirements(check_sdp(v2gtp.SDP_SECURITY_NONE, unasked)) == ["SDP security as asked"]
    assert check_sdp(v2gtp.SDP_SECURITY_TLS, unasked) == []
    assert check_sdp(v2gtp.SDP_SECURITY_TLS, v2gtp.SdpResponse(ADDRESS, 50000)) == []  # asked, none offered: fine
    udp = v2gtp.SdpResponse(ADDRESS, 50000, v2gtp.SDP_SECURITY_NONE, 0x10)
    assert requirements(check_sdp(v2gtp.SDP_SECURITY_NONE, udp)) == ["SDP transport TCP"]


# ---- handshake -----------------------------------------------------------------------------------------------
def test_handshake_must_name_an_offered_schema():
    assert check_handshake([1, 10], "OK_SuccessfulNegotiation", 10) == []
    assert check_handshake([1, 10], "Failed_NoNegotiation", None) == []
    assert requirements(check_handshake([1, 10], "OK_SuccessfulNegotiation", 3)) == \
        ["handshake names an offered schema"]


# ---- every response ------------------------------------------------------------------------------------------
def test_response_type_session_id_and_code():
    res = current_demand(din)
    assert check_response("din", "CurrentDemandReq", "CurrentDemandRes", res, session_id=SESSION,
                          expected_session_id=SESSION) == []
    assert requirements(check_response("din", "CableCheckReq", "CurrentDemandRes", res)) == \
        ["the response type of the request"]
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", res, session_id=bytes(8),
                                       expected_session_id=SESSION)) == ["the session's SessionID in every response"]
    odd = current_demand(din, code="OK_NewSessionEstablished")
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", odd)) == \
        ["response code valid for the message"]


@pytest.mark.parametrize("schema, asked, seconds, ok", [
    ("din", "CurrentDemandReq", 0.2, True), ("din", "CurrentDemandReq", 0.3, False),
    ("din", "CableCheckReq", 1.9, True), ("din", "CableCheckReq", 2.1, False),
    ("iso2", "PowerDeliveryReq", 4.0, True), ("din", "PowerDeliveryReq", 4.0, False),
])
def test_answer_times_within_the_evs_timeouts(schema, asked, seconds, ok):
    t = TYPES[schema]
    kind = asked[:-3] + "Res"
    response = current_demand(t) if kind == "CurrentDemandRes" else (
        cable_check(t, "Ongoing", code="EVSE_IsolationMonitoringActive", isolation="Invalid")
        if kind == "CableCheckRes" else t.PowerDeliveryRes(ResponseCode=t.ResponseCode("OK"),
                                                           DC_EVSEStatus=status(t)))
    found = requirements(check_response(schema, asked, kind, response, round_trip_s=seconds))
    assert (found == []) == ok, found
    if not ok:
        assert found[0].startswith(f"answer within the EV's {asked} timeout")


# ---- EVSE status per phase -----------------------------------------------------------------------------------
@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_cable_check_finished_must_be_ready_and_valid(schema):
    t = TYPES[schema]
    rule = "CableCheck Finished says EVSE_Ready with isolation Valid"
    old = cable_check(t, "Finished", code="EVSE_IsolationMonitoringActive", isolation="Valid")  # b42cf3a's answer
    assert requirements(check_response(schema, "CableCheckReq", "CableCheckRes", old)) == [rule]
    invalid = cable_check(t, "Finished", code="EVSE_Ready", isolation="Invalid")
    assert requirements(check_response(schema, "CableCheckReq", "CableCheckRes", invalid)) == [rule]
    assert check_response(schema, "CableCheckReq", "CableCheckRes", cable_check(t, "Finished")) == []
    ongoing = cable_check(t, "Ongoing", code="EVSE_IsolationMonitoringActive", isolation="Invalid")
    assert check_response(schema, "CableCheckReq", "CableCheckRes", ongoing) == []
    not_ready = cable_check(t, "Ongoing", code="EVSE_NotReady", isolation="Invalid")
    assert requirements(check_response(schema, "CableCheckReq", "CableCheckRes", not_ready)) == \
        ["CableCheck Ongoing says EVSE_IsolationMonitoringActive"]


def test_charging_answers_must_say_ready_unless_the_evse_stops():
    t = din
    res = current_demand(t, isolation="Valid")
    res.DC_EVSEStatus = status(t, code="EVSE_NotReady")
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", res)) == \
        ["CurrentDemandRes says EVSE_Ready while charging goes on"]
    res.DC_EVSEStatus = status(t, code="EVSE_Shutdown", notification="StopCharging")
    assert check_response("din", "CurrentDemandReq", "CurrentDemandRes", res) == []  # an EVSE stop is allowed
    res.DC_EVSEStatus = status(t, code="EVSE_IsolationMonitoringActive")
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", res)) == \
        ["EVSE_IsolationMonitoringActive only during cable check"]
    res.DC_EVSEStatus = status(t, isolation="Fault")
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", res)) == \
        ["CurrentDemandRes: isolation Valid once checked"]


# ---- physical values -----------------------------------------------------------------------------------------
def test_physical_values_units_and_multipliers():
    wrong_unit = current_demand(din, voltage=pv(din, 400, "A"))
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", wrong_unit)) == \
        ["physical value in the unit of its quantity"]
    wrong_multiplier = current_demand(din, voltage=pv(din, 4, "V", 5))
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", wrong_multiplier)) == \
        ["physical value multiplier -3..3"]
    din_without_unit = current_demand(din, voltage=pv(din, 400, None))  # DIN leaves the unit optional
    assert check_response("din", "CurrentDemandReq", "CurrentDemandRes", din_without_unit) == []
    no_unit = current_demand(iso2, voltage=pv(iso2, 400, None))
    assert requirements(check_response("iso2", "CurrentDemandReq", "CurrentDemandRes", no_unit)) == \
        ["physical value with its unit"]


def test_a_timing_scale_stretches_the_answer_time_limits_and_nothing_else():
    """The vcan tier's car on an emulated CPU (timing_scale 10) allows 2.5 s for CurrentDemand; 1 is the standard."""
    res = current_demand(din)
    late = dict(session_id=SESSION, expected_session_id=SESSION, round_trip_s=0.334)
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", res, **late)) == \
        ["answer within the EV's CurrentDemandReq timeout (0.25 s)"]
    assert check_response("din", "CurrentDemandReq", "CurrentDemandRes", res, timing_scale=10.0, **late) == []
    assert requirements(check_response("din", "CurrentDemandReq", "CurrentDemandRes", res, timing_scale=10.0,
                                       **{**late, "round_trip_s": 2.6})) == \
        ["answer within the EV's CurrentDemandReq timeout (2.5 s)"]


def test_the_vcan_tiers_car_profile_loads_with_its_scale():
    from hil.ev.evcc.profile import load_profile
    from tests.vcan.rig_tier import CAR_PROFILE
    profile = load_profile(str(CAR_PROFILE))
    assert profile.timing_scale == 10.0 and profile.protocols[0].namespace == "urn:din:70121:2012:MsgDef"
