from pathlib import Path

import pytest

from controller.formats.v2g import slac_messages as slac
from controller.formats.v2g.slac_messages import SlacError

pytestmark = pytest.mark.timeout(30)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TESLA_CAPTURE = SHARED / "captures" / "2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop.pcapng"
EV_MAC = bytes.fromhex("0a0b0c0d0e0f")
EVSE_MAC = bytes.fromhex("02aabbccddee")
RUN_ID = b"RUNID-01"
NID = bytes(range(1, 8))
NMK = bytes(range(16, 32))

SAMPLES = [
    slac.SlacParmReq(run_id=RUN_ID),
    slac.SlacParmCnf(forwarding_sta=EV_MAC, run_id=RUN_ID, num_sounds=8, timeout=5),
    slac.StartAttenCharInd(forwarding_sta=EV_MAC, run_id=RUN_ID),
    slac.MnbcSoundInd(count=7, run_id=RUN_ID, random=bytes(range(16))),
    slac.AttenCharInd(source_address=EV_MAC, run_id=RUN_ID, num_sounds=10, attenuation=tuple(range(20, 78))),
    slac.AttenCharRsp(source_address=EV_MAC, run_id=RUN_ID, result=0),
    slac.AttenProfileInd(pev_mac=EV_MAC, attenuation=(30, 31, 32)),
    slac.SlacMatchReq(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=RUN_ID),
    slac.SlacMatchCnf(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=RUN_ID, nid=NID, nmk=NMK),
    slac.SetKeyReq(nid=NID, new_key=NMK, my_nonce=0x12345678),
    slac.SetKeyCnf(result=0, your_nonce=0x12345678),
    slac.ValidateReq(signal_type=0, timer=3, result=1),
    slac.ValidateCnf(signal_type=0, toggle_num=4, result=2),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda message: message.name)
def test_build_then_parse_gives_the_same_message(message):
    frame = slac.build_frame(slac.BROADCAST_MAC, EV_MAC, message)
    assert len(frame) >= 60
    parsed = slac.parse_frame(frame)
    assert parsed.message == message
    assert (parsed.destination, parsed.source, parsed.mmv, parsed.mmtype) == (
        slac.BROADCAST_MAC, EV_MAC, 1, message.MMTYPE)
    assert parsed.name == slac.MMTYPE_NAMES[message.MMTYPE]


def test_slac_parm_req_wire_layout():
    frame = slac.build_frame(slac.BROADCAST_MAC, EV_MAC, slac.SlacParmReq(run_id=RUN_ID))
    expected = slac.BROADCAST_MAC + EV_MAC + bytes.fromhex("88e1 01 6460 0000 00 00") + RUN_ID
    assert frame == expected + bytes(60 - len(expected))


def test_slac_match_cnf_wire_layout():
    message = slac.SlacMatchCnf(pev_mac=EV_MAC, evse_mac=EVSE_MAC, run_id=RUN_ID, nid=NID, nmk=NMK)
    body = message.to_body()
    assert body == (bytes.fromhex("0000 5600") + bytes(17) + EV_MAC + bytes(17) + EVSE_MAC + RUN_ID + bytes(8)
                    + NID + b"\0" + NMK)


def test_atten_char_ind_carries_the_group_count_before_the_groups():
    body = slac.AttenCharInd(source_address=EV_MAC, run_id=RUN_ID, num_sounds=10, attenuation=(5, 6)).to_body()
    assert body[-4:] == bytes((10, 2, 5, 6))


def test_to_json_renders_macs_hex_and_the_readable_run_id():
    fields = slac.SlacParmCnf(forwarding_sta=EV_MAC, run_id=b"TESLA EV").to_json()
    assert fields["forwarding_sta"] == "0a:0b:0c:0d:0e:0f"
    assert fields["msound_target"] == "ff:ff:ff:ff:ff:ff"
    assert fields["run_id"] == b"TESLA EV".hex()
    assert fields["run_id_text"] == "TESLA EV"
    assert "run_id_text" not in slac.SlacParmReq(run_id=bytes(range(8))).to_json()


def test_direction_of_each_message():
    assert slac.SlacParmReq.FROM_EV is True
    assert slac.SlacParmCnf.FROM_EV is False
    assert slac.AttenCharRsp.FROM_EV is True
    assert slac.SlacMatchCnf.FROM_EV is False
    assert slac.SetKeyReq.FROM_EV is None


def test_unknown_mmtype_is_kept_and_named_by_number():
    payload = bytes.fromhex("00 4ea1 00b052") + b"vendor"
    parsed = slac.parse_payload(slac.BROADCAST_MAC, EVSE_MAC, payload)
    assert isinstance(parsed.message, slac.UnknownMessage)
    assert parsed.name == "VS_0xA14E"
    assert parsed.message.body == bytes.fromhex("00b052") + b"vendor"  # MMV 0 has no fragment field
    assert parsed.from_ev is None
    assert parsed.to_json()["mmtype"] == "0xa14e"
    assert slac.mmtype_name(0x6050) == "MMTYPE_0x6050"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x01\x64", "needs 3 bytes"),
        (bytes.fromhex("016460"), "fragment field"),
        (bytes.fromhex("0164600000") + b"short", r"CM_SLAC_PARM.REQ body needs 10 bytes"),
        (bytes.fromhex("016e600000") + bytes(51) + bytes((10, 58)) + bytes(3), "attenuation groups truncated"),
        (bytes.fromhex("0186600000") + EV_MAC + bytes((5, 0, 1)), "attenuation groups truncated"),
    ],
)
def test_short_messages_raise_slac_error_with_reason(payload, reason):
    with pytest.raises(SlacError, match=reason):
        slac.parse_payload(slac.BROADCAST_MAC, EV_MAC, payload)


def test_parse_frame_checks_the_ethertype_and_length():
    with pytest.raises(SlacError, match="ethertype 0x0800"):
        slac.parse_frame(bytes(12) + b"\x08\x00" + bytes(46))
    with pytest.raises(SlacError, match="at least 14"):
        slac.parse_frame(bytes(10))


def test_build_rejects_bad_macs_and_groups():
    with pytest.raises(SlacError, match="MAC"):
        slac.build_frame(b"\xff", EV_MAC, slac.SlacParmReq(run_id=RUN_ID))
    with pytest.raises(SlacError, match="255"):
        slac.AttenProfileInd(pev_mac=EV_MAC, attenuation=(300,)).to_body()


@pytest.fixture(scope="module")
def tesla_frames():
    if not TESLA_CAPTURE.exists():
        pytest.skip(f"shared captures not present ({TESLA_CAPTURE})")
    from controller.formats.capture.pcap import read_capture

    return [packet.data for packet in read_capture(TESLA_CAPTURE) if packet.data[12:14] == b"\x88\xe1"]


def test_real_tesla_slac_frames_parse_and_rebuild(tesla_frames):
    names = []
    for data in tesla_frames:
        parsed = slac.parse_frame(data)
        names.append(parsed.name)
        if not isinstance(parsed.message, slac.UnknownMessage):
            rebuilt = slac.build_frame(parsed.destination, parsed.source, parsed.message, parsed.mmv)
            assert data.startswith(rebuilt), parsed.name
    order = [name for name in dict.fromkeys(names) if name.startswith("CM_")]
    assert order == ["CM_SLAC_PARM.REQ", "CM_SLAC_PARM.CNF", "CM_START_ATTEN_CHAR.IND", "CM_MNBC_SOUND.IND",
                     "CM_ATTEN_PROFILE.IND", "CM_ATTEN_CHAR.IND", "CM_ATTEN_CHAR.RSP", "CM_SLAC_MATCH.REQ",
                     "CM_SLAC_MATCH.CNF"]
    assert names.count("CM_MNBC_SOUND.IND") == 10


def test_real_tesla_run_id_and_match(tesla_frames):
    parsed = [slac.parse_frame(data) for data in tesla_frames]
    request = next(frame for frame in parsed if frame.name == "CM_SLAC_PARM.REQ")
    assert request.to_json()["run_id_text"] == "TESLA EV"
    assert request.from_ev is True
    ev_mac = request.source
    atten = next(frame for frame in parsed if frame.name == "CM_ATTEN_CHAR.IND")
    assert atten.message.source_address == ev_mac
    assert len(atten.message.attenuation) == 58
    match = next(frame for frame in parsed if frame.name == "CM_SLAC_MATCH.CNF")
    assert match.message.pev_mac == ev_mac
    assert match.message.run_id == b"TESLA EV"
    assert len(match.message.nid) == 7 and len(match.message.nmk) == 16
