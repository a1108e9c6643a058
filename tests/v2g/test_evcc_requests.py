"""The rig's car: profiles from data files, its DIN / ISO-2 requests, and what it reads in the responses."""
from __future__ import annotations

import pytest

from controller.formats.cabinet.loader import ConfigError
from controller.formats.v2g import exi
from controller.formats.v2g.messages import din
from hil.ev.evcc import answers
from hil.ev.evcc.profile import PROFILES_DIR, load_profile
from hil.ev.evcc.requests import RequestBuilder

pytestmark = pytest.mark.timeout(30)

OPS = [("session_setup", dict(evcc_id="0465650064c3")), ("service_discovery", {}), ("payment_selection", {}),
       ("authorize", {}), ("charge_parameters", dict(max_voltage_v=420, max_current_a=150, soc_percent=30,
                                                     energy_capacity_wh=50_000)),
       ("cable_check", {}), ("precharge", dict(target_voltage_v=380.5, target_current_a=2)),
       ("power_delivery", dict(start=True)),
       ("current_demand", dict(target_voltage_v=400, target_current_a=120.4, soc_percent=55.6,
                               max_voltage_v=420, max_current_a=150)),
       ("power_delivery", dict(start=False)), ("welding_detection", {}), ("session_stop", {})]


def test_every_profile_in_the_folder_loads():
    names = sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))
    assert {"din", "iso2", "tesla"} <= set(names)
    for name in names:
        assert load_profile(name).protocols


def test_tesla_profile_has_its_quirks():
    tesla = load_profile("tesla")
    assert tesla.one_byte_session_id and tesla.sdp_tls and tesla.energy_transfer_mode == "DC_extended"
    assert [p.namespace for p in sorted(tesla.protocols, key=lambda p: p.priority)] == [
        "urn:tesla:din:2018:MsgDef", "urn:din:70121:2012:MsgDef"]


@pytest.mark.parametrize("text, key", [
    ('name = "x"\nprotocols = []\n', "<root>"),
    ('name = "x"\nevcc_id = "zz"\n[[protocols]]\nnamespace="a"\nmajor=2\nminor=0\nschema_id=1\npriority=1\n', "<root>"),
    ('name = "x"\nspeed = 3\n[[protocols]]\nnamespace="a"\nmajor=2\nminor=0\nschema_id=1\npriority=1\n', "speed"),
    ('name = "x"\nservice_detail_timeout_s = 0\n[[protocols]]\nnamespace="a"\nmajor=2\nminor=0\nschema_id=1\n'
     'priority=1\n', "service_detail_timeout_s"),
])
def test_bad_profile_names_the_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_profile(str(path))
    assert key in str(err.value)


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known: .*din"):
        load_profile("no-such-car")


@pytest.mark.parametrize("schema", ["din", "iso2"])
def test_every_request_encodes_and_decodes(schema):
    builder = RequestBuilder(schema, load_profile(schema))
    builder.session_id = bytes.fromhex("0102030405060708")
    for op, fields in OPS:
        name, body = getattr(builder, op)(**fields)
        message = exi.decode(schema, exi.encode(schema, builder.message(name, body)))
        assert exi.message_type(message) == name
    assert builder.soc == 55.6  # the last CurrentDemand's SoC goes into every later DC_EVStatus


def test_one_byte_session_id_until_the_secc_gives_one():
    builder = RequestBuilder("din", load_profile("tesla"))
    name, body = builder.session_setup(evcc_id="4cfcaa000001")
    message = exi.decode("din", exi.encode("din", builder.message(name, body)))
    assert message.Header.SessionID == b"\x00"


def test_the_car_reads_the_decoded_response_itself():
    response = din.CurrentDemandRes(
        ResponseCode=din.ResponseCode.OK,
        DC_EVSEStatus=din.DC_EVSEStatus(EVSEIsolationStatus=din.IsolationLevel.Valid,
                                        EVSEStatusCode=din.DC_EVSEStatusCode.EVSE_Ready, NotificationMaxDelay=0,
                                        EVSENotification=din.EVSENotification.StopCharging),
        EVSEPresentVoltage=din.PhysicalValue(Multiplier=-1, Unit=din.UnitSymbol.V, Value=3805),
        EVSEPresentCurrent=din.PhysicalValue(Multiplier=0, Unit=din.UnitSymbol.A, Value=120),
        EVSECurrentLimitAchieved=False, EVSEVoltageLimitAchieved=False, EVSEPowerLimitAchieved=False)
    assert answers.accepted(response) and answers.finished(response)
    assert answers.status_code(response) == "EVSE_Ready" and answers.notification(response) == "StopCharging"
    assert answers.present_voltage_v(response) == pytest.approx(380.5)
    setup = din.SessionSetupRes(ResponseCode=din.ResponseCode.OK_NewSessionEstablished, EVSEID=b"\x00")
    assert answers.accepted(setup) and answers.status_code(setup) == "EVSE_Ready"  # no status: a ready EVSE
    refused = din.SessionSetupRes(ResponseCode=din.ResponseCode.FAILED, EVSEID=b"\x00")
    assert not answers.accepted(refused)