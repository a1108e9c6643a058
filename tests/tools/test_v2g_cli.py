import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from controller.formats.v2g import slac_messages, v2gtp
from controller.formats.capture.pcap import PcapWriter
from tools.v2g_cli import main

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO.parent / "shared" / "captures"
CAPTURE_NAMES = [
    "2022-12-13_compleo_with_bulb.pcapng",
    "2023-05-24_pyPlc_with_Ioniq93prcSoc.pcapng",
    "2024-04-20_ModelY_pyPLC_stop_in_precharge.pcapng",
    "2025-07-22_pyPLC_with_tesla_model_x_plaid_until_charging_loop.pcapng",
]
# supportedAppProtocolReq offering urn:din:70121:2012:MsgDef 2.0 as SchemaID 1, and the OK response choosing it.
HANDSHAKE_REQ = bytes.fromhex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040")
HANDSHAKE_RES = bytes.fromhex("80400040")
# DIN SessionSetupReq with SessionID 0 and an empty EVCCID.
SESSION_SETUP_REQ = bytes.fromhex("809a02000000000000000011d00000")

EV_MAC, EVSE_MAC = bytes.fromhex("0a0000000001"), bytes.fromhex("0a0000000002")
EV_IP, EVSE_IP = bytes.fromhex("fe80" + "00" * 13 + "01"), bytes.fromhex("fe80" + "00" * 13 + "02")
EV_PORT, EVSE_PORT = 50000, 15118


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def json_lines(text):
    return [json.loads(line) for line in text.splitlines()]


# --- synthetic captures ----------------------------------------------------------------------------------


def ipv6_frame(from_ev: bool, next_header: int, transport: bytes) -> bytes:
    source, destination = (EV_MAC, EVSE_MAC) if from_ev else (EVSE_MAC, EV_MAC)
    addresses = EV_IP + EVSE_IP if from_ev else EVSE_IP + EV_IP
    ip = struct.pack(">IHBB", 0x60000000, len(transport), next_header, 64) + addresses
    return destination + source + b"\x86\xdd" + ip + transport


def tcp_frame(from_ev: bool, sequence: int, payload: bytes = b"", flags: int = 0x18) -> bytes:
    ports = (EV_PORT, EVSE_PORT) if from_ev else (EVSE_PORT, EV_PORT)
    header = struct.pack(">HHIIBBHHH", *ports, sequence, 0, 5 << 4, flags, 65535, 0, 0)
    return ipv6_frame(from_ev, 6, header + payload)


def udp_frame(from_ev: bool, payload: bytes) -> bytes:
    ports = (EV_PORT, v2gtp.SDP_PORT) if from_ev else (v2gtp.SDP_PORT, EV_PORT)
    return ipv6_frame(from_ev, 17, struct.pack(">HHHH", *ports, 8 + len(payload), 0) + payload)


def write_capture(path: Path, frames: list[bytes]) -> Path:
    stream = io.BytesIO()
    writer = PcapWriter(stream)
    for index, frame in enumerate(frames):
        writer.write(1_700_000_000_000_000_000 + index * 10_000_000, frame)
    path.write_bytes(stream.getvalue())
    return path


def exi(payload: bytes) -> bytes:
    return v2gtp.build_frame(v2gtp.PAYLOAD_EXI, payload)


EV_ISN, EVSE_ISN = 1000, 0xFFFFFFF0  # the charger's sequence numbers wrap during the session


def session_frames() -> list[bytes]:
    """SLAC parm request, SDP, a TCP connection whose V2GTP frames are split, batched, resent and reordered."""
    request, response, setup = exi(HANDSHAKE_REQ), exi(HANDSHAKE_RES), exi(SESSION_SETUP_REQ)
    return [
        slac_messages.build_frame(slac_messages.BROADCAST_MAC, EV_MAC,
                                  slac_messages.SlacParmReq(run_id=b"TESTRUN1")),
        udp_frame(True, v2gtp.SdpRequest(v2gtp.SDP_SECURITY_NONE).to_frame()),
        udp_frame(False, v2gtp.SdpResponse(EVSE_IP, EVSE_PORT).to_frame()),
        tcp_frame(True, EV_ISN, flags=0x02),
        tcp_frame(False, EVSE_ISN, flags=0x12),
        tcp_frame(True, EV_ISN + 1, request[:5]),  # header split across segments
        tcp_frame(True, EV_ISN + 1 + 20, request[20:]),  # arrives before the bytes 5..20
        tcp_frame(True, EV_ISN + 1 + 5, request[5:20]),
        tcp_frame(False, EVSE_ISN + 1, response),
        tcp_frame(False, EVSE_ISN + 1, response),  # retransmitted
        tcp_frame(True, EV_ISN + 1 + len(request), setup + setup),  # two frames in one segment
    ]


def test_synthetic_session_is_reassembled_and_decoded(tmp_path, capsys):
    path = write_capture(tmp_path / "session.pcap", session_frames())
    status, out, err = run(capsys, "pcap", str(path), "--json")
    assert (status, err) == (0, "")
    records = json_lines(out)
    assert [(r["schema"], r["type"], r["from_ev"]) for r in records] == [
        ("slac", "CM_SLAC_PARM.REQ", True),
        ("sdp", "SdpRequest", True),
        ("sdp", "SdpResponse", False),
        ("appproto", "supportedAppProtocolReq", True),
        ("appproto", "supportedAppProtocolRes", False),  # once: the retransmitted segment is dropped
        ("din", "SessionSetupReq", True),
        ("din", "SessionSetupReq", True),
    ]
    assert records[0]["fields"]["run_id_text"] == "TESTRUN1"
    assert records[2]["fields"]["port"] == EVSE_PORT
    assert records[3]["hex"] == HANDSHAKE_REQ.hex()
    assert records[3]["t"] == pytest.approx(0.07)  # completed by the late segment at index 7
    assert all("error" not in r for r in records)


def test_capture_without_handshake_guesses_din_and_the_server_side(tmp_path, capsys):
    frames = [tcp_frame(True, 5000, exi(SESSION_SETUP_REQ))]
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "late.pcap", frames)), "--json")
    (record,) = json_lines(out)
    assert (status, record["schema"], record["type"], record["from_ev"]) == (0, "din", "SessionSetupReq", True)


def test_garbage_in_a_stream_is_reported_once_and_framing_resumes(tmp_path, capsys):
    tls_then_v2gtp = b"\x16\x03\x01 TLS hello" + exi(HANDSHAKE_REQ)
    frames = [tcp_frame(True, 1000, flags=0x02), tcp_frame(True, 1001, tls_then_v2gtp)]
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "tls.pcap", frames)), "--json")
    records = json_lines(out)
    assert status == 0
    assert [r["type"] for r in records] == ["V2gtpError", "supportedAppProtocolReq"]
    assert "bad V2GTP version" in records[0]["error"]


def test_human_table_lists_direction_protocol_and_summary(tmp_path, capsys):
    path = write_capture(tmp_path / "session.pcap", session_frames())
    status, out, _ = run(capsys, "pcap", str(path))
    lines = out.splitlines()
    assert status == 0 and lines[0].split()[:4] == ["time", "direction", "proto", "type"]
    assert "EV->EVSE" in lines[1] and "SLAC" in lines[1] and "RunID=TESTRUN1" in lines[1]
    assert "EVSE->EV" in lines[3] and "port=15118" in lines[3]
    assert lines[-1] == ("not dissected: 1 frame(s), TCP segment repeating bytes already seen "
                         "(retransmission or captured twice)")
    assert len(lines) == 1 + 7 + 1


# --- the shared captures ---------------------------------------------------------------------------------


def shared_capture(name: str) -> Path:
    path = CAPTURES / name
    if not path.exists():
        pytest.skip(f"shared captures not present ({CAPTURES})")
    return path


EVEREST_DIN = "Tesla_Model_Y_11.1_din_spec_70121_2023-01-18-tesla_y_dinspec_infypower_teslay_dc_infy_0.pcap"
ISO2_NAMES = [
    "iso2/VW_id.3_iso_15118-2_DC_2023-04-14_1244-2_config-dc-iso2.pcap",  # the file ends inside its last record
    "iso2/Porsche_Taycan_4S_iso-15118-2-DC_2023-04-11_0929-taycan-iso-2-DC.pcap",
    "iso2/MG_MG4_electric_iso-2-DC.pcap",  # two TCP connections, the SECC's TCP retransmits its answers
]
_REFERENCE_SCHEMAS = {"appHandshake": "appproto", "DIN": "din", "ISO1": "iso2"}
_REPEATED = "TCP segment repeating bytes already seen (retransmission or captured twice)"


@pytest.mark.parametrize("name", [*CAPTURE_NAMES, EVEREST_DIN, *ISO2_NAMES])
def test_pcap_json_lists_the_expected_v2g_sequence(name, capsys):
    """Our messages are the reference's, in order, at the same times, minus the TCP segments the reference
    decoded again although they only repeat bytes already sent (retransmissions): each is dropped once."""
    path = shared_capture(name)
    expected = json.loads((path.parent / "expected" / f"{path.name}.json").read_text())
    status, out, err = run(capsys, "pcap", str(path), "--json")
    assert (status, err) == (0, "")
    v2g = [record for record in json_lines(out) if record["schema"] not in ("slac", "sdp")]
    assert all("error" not in r for r in v2g)
    ours = [(r["type"], r["from_ev"], r["hex"], r["schema"]) for r in v2g]
    position, repeats = 0, 0
    for entry in expected:
        reference = (entry["decoded"]["msgName"], entry["from_ev"], entry["hex"],
                     _REFERENCE_SCHEMAS[entry["decoded"]["schema"]])
        if position < len(ours) and ours[position] == reference:
            assert v2g[position]["t"] == pytest.approx(entry["t"], abs=1e-6)
            position += 1
        else:  # only a repeat of bytes this side sent before may be missing
            assert reference in ours[:position], f"{reference[0]} at {entry['t']} missing"
            repeats += 1
    assert position == len(ours)
    table = run(capsys, "pcap", str(path))[1].splitlines()
    dropped = sum(int(line.split()[2]) for line in table if line.endswith(f"frame(s), {_REPEATED}"))
    assert repeats == dropped


def test_mg4_keeps_its_two_connections_apart_each_from_its_handshake(capsys):
    path = shared_capture(ISO2_NAMES[2])
    v2g = [r for r in json_lines(run(capsys, "pcap", str(path), "--json")[1]) if r["schema"] not in ("slac", "sdp")]
    for stream in (0, 1):
        messages = [r for r in v2g if r["tcp_stream"] == stream]
        assert [r["type"] for r in messages[:2]] == ["supportedAppProtocolReq", "supportedAppProtocolRes"]
        assert {r["schema"] for r in messages[2:]} == {"iso2"}
        assert all(r["from_ev"] == r["type"].endswith("Req") for r in messages)


def test_a_capture_cut_short_keeps_its_messages_and_says_so(capsys):
    path = shared_capture(ISO2_NAMES[0])
    status, out, _ = run(capsys, "pcap", str(path))
    assert status == 0 and out.count("CurrentDemandReq") > 10
    assert out.splitlines()[-1].startswith("not dissected: 1 frame(s), the capture ends inside a record")


def test_pcap_json_shows_tesla_slac_and_sdp(capsys):
    path = shared_capture(CAPTURE_NAMES[3])
    records = json_lines(run(capsys, "pcap", str(path), "--json")[1])
    slac = [r for r in records if r["schema"] == "slac"]
    parm = next(r for r in slac if r["type"] == "CM_SLAC_PARM.REQ")
    assert parm["from_ev"] is True and parm["fields"]["run_id_text"] == "TESLA EV"
    assert next(r for r in slac if r["type"] == "CM_SLAC_MATCH.CNF")["from_ev"] is False
    sdp = [(r["type"], r["from_ev"], r["fields"]["security"]) for r in records if r["schema"] == "sdp"]
    assert sdp == [("SdpRequest", True, "TLS"), ("SdpResponse", False, "none")]


# --- decode and encode -----------------------------------------------------------------------------------


def test_decode_prints_type_and_fields(capsys):
    status, out, _ = run(capsys, "decode", "--schema", "appproto", HANDSHAKE_RES.hex())
    document = json.loads(out)
    assert status == 0 and document["type"] == "supportedAppProtocolRes"
    assert isinstance(document["fields"], dict)


def test_decode_skips_a_v2gtp_header_and_spaces(capsys):
    framed = exi(SESSION_SETUP_REQ).hex()
    status, out, _ = run(capsys, "decode", "--schema", "din", framed[:10] + " " + framed[10:])
    assert status == 0 and json.loads(out)["type"] == "SessionSetupReq"


@pytest.mark.parametrize(("schema", "payload"),
                         [("appproto", HANDSHAKE_REQ), ("appproto", HANDSHAKE_RES), ("din", SESSION_SETUP_REQ)])
def test_decode_then_encode_gives_the_same_bytes(schema, payload, capsys, tmp_path):
    decoded = run(capsys, "decode", "--schema", schema, payload.hex())[1]
    status, out, _ = run(capsys, "encode", "--schema", schema, decoded)
    assert (status, out.strip()) == (0, payload.hex())
    (tmp_path / "message.json").write_text(decoded)
    assert run(capsys, "encode", "--schema", schema, f"@{tmp_path / 'message.json'}")[1].strip() == payload.hex()


def test_every_shared_din_payload_round_trips_through_the_cli(capsys):
    expected = json.loads((shared_capture(CAPTURE_NAMES[1]).parent / "expected" / f"{CAPTURE_NAMES[1]}.json")
                          .read_text())
    for entry in {e["hex"]: e for e in expected if e["decoded"]["schema"] == "DIN"}.values():
        decoded = run(capsys, "decode", "--schema", "din", entry["hex"])[1]
        assert json.loads(decoded)["type"] == entry["decoded"]["msgName"]
        assert run(capsys, "encode", "--schema", "din", decoded)[1].strip() == entry["hex"]


# --- bad input: exit 2 and one line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["decode", "--schema", "din", "80zz"], "not hexadecimal"),
        (["decode", "--schema", "iso20", "8000"], "invalid choice"),
        (["decode", "--schema", "din", "00"], "cannot decode as din"),
        (["decode", "--schema", "din", "01fe8001000000ff80"], "announces 255"),
        (["encode", "--schema", "din", "{not json"], "invalid JSON"),
        (["encode", "--schema", "din", "[1, 2]"], "expected a JSON object"),
        (["encode", "--schema", "din", '{"type": "NoSuchReq", "fields": {}}'], "cannot encode NoSuchReq"),
        (["encode", "--schema", "din", "@/nonexistent/message.json"], "cannot read"),
        (["pcap", "/nonexistent/capture.pcap"], "no such file"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, reason, capsys):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("charger-v2g: ")
    assert reason in err


def test_garbage_file_exits_2_without_traceback(tmp_path):
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(30))
    result = subprocess.run([sys.executable, "-m", "tools.v2g_cli", "pcap", str(garbage)], cwd=REPO,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "truncated" in result.stderr


# --- the handshake picks the schema ------------------------------------------------------------------------

DIN_NAMESPACE, ISO2_NAMESPACE = "urn:din:70121:2012:MsgDef", "urn:iso:15118:2:2013:MsgDef"


def handshake(namespaces: list[str], chosen: int | None) -> tuple[bytes, bytes]:
    from controller.formats.v2g import exi as codec

    offered = [{"ProtocolNamespace": namespace, "VersionNumberMajor": 2, "VersionNumberMinor": 0,
                "SchemaID": index + 1, "Priority": index + 1} for index, namespace in enumerate(namespaces)]
    request = codec.from_json("appproto", "supportedAppProtocolReq", {"AppProtocol": offered})
    answer = {"ResponseCode": "OK_SuccessfulNegotiation", "SchemaID": chosen} if chosen else {
        "ResponseCode": "Failed_NoNegotiation"}
    response = codec.from_json("appproto", "supportedAppProtocolRes", answer)
    return codec.encode("appproto", request), codec.encode("appproto", response)


def iso2_session_setup() -> bytes:
    from controller.formats.v2g import exi as codec

    fields = {"Header": {"SessionID": "00"}, "Body": {"SessionSetupReq": {"EVCCID": "0a0000000001"}}}
    return codec.encode("iso2", codec.from_json("iso2", "SessionSetupReq", fields))


def connection_frames(request: bytes, response: bytes, follow_up: bytes) -> list[bytes]:
    return [tcp_frame(True, EV_ISN, flags=0x02), tcp_frame(True, EV_ISN + 1, exi(request)),
            tcp_frame(False, EVSE_ISN + 1, exi(response)),
            tcp_frame(True, EV_ISN + 1 + len(exi(request)), exi(follow_up))]


@pytest.mark.parametrize(
    ("namespaces", "chosen", "schema", "outcome"),
    [
        ([DIN_NAMESPACE, ISO2_NAMESPACE], 2, "iso2", "SessionSetupReq"),
        (["urn:iso:std:iso:15118:-20:DC"], 1, "unknown", "which this tool does not decode"),
        ([DIN_NAMESPACE], None, "unknown", "chose no schema"),
        ([DIN_NAMESPACE], 3, "unknown", "SchemaID 3, which was not offered"),
    ],
)
def test_the_handshake_response_picks_the_schema(namespaces, chosen, schema, outcome, tmp_path, capsys):
    request, response = handshake(namespaces, chosen)
    frames = connection_frames(request, response, iso2_session_setup())
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "handshake.pcap", frames)), "--json")
    last = json_lines(out)[-1]
    assert (status, last["schema"], last["from_ev"]) == (0, schema, True)
    assert outcome in (last["type"] if schema != "unknown" else last["error"])


def test_human_table_ends_with_frames_it_could_not_dissect(tmp_path, capsys):
    truncated_ipv6 = EV_MAC + EVSE_MAC + b"\x86\xdd" + bytes(20)
    frames = [truncated_ipv6, truncated_ipv6, tcp_frame(True, 1000, exi(SESSION_SETUP_REQ))]
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "short.pcap", frames)))
    assert status == 0
    assert out.splitlines()[-1] == "not dissected: 2 frame(s), IPv6 header truncated (20 bytes)"
    assert "SessionSetupReq" in out


def test_vlan_tags_and_ipv6_extension_headers_are_skipped(tmp_path, capsys):
    segment = struct.pack(">HHIIBBHHH", EV_PORT, EVSE_PORT, 1000, 0, 5 << 4, 0x18, 65535, 0, 0) + exi(
        SESSION_SETUP_REQ)
    extensions = bytes((60, 0)) + bytes(6) + bytes((6, 1)) + bytes(14)  # hop-by-hop, destination options
    ip = struct.pack(">IHBB", 0x60000000, len(extensions) + len(segment), 0, 64) + EV_IP + EVSE_IP
    frame = EVSE_MAC + EV_MAC + b"\x81\x00\x00\x05\x86\xdd" + ip + extensions + segment
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "vlan.pcap", [frame])), "--json")
    (record,) = json_lines(out)
    assert (status, record["type"], record["from_ev"]) == (0, "SessionSetupReq", True)


# --- direction and duplicates without the TCP handshake in the capture ----------------------------------------

HIGH_SECC_PORT, LOW_EV_PORT = 61341, 50001  # EVerest's SECC listens on a dynamic port above the car's


def segment(from_ev: bool, sequence: int, payload: bytes, ports=(LOW_EV_PORT, HIGH_SECC_PORT), flags=0x18) -> bytes:
    ev_port, secc_port = ports
    pair = (ev_port, secc_port) if from_ev else (secc_port, ev_port)
    header = struct.pack(">HHIIBBHHH", *pair, sequence, 0, 5 << 4, flags, 65535, 0, 0)
    return ipv6_frame(from_ev, 6, header + payload)


def dissected(tmp_path, capsys, frames):
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "c.pcap", frames)), "--json")
    assert status == 0
    return [(r["type"], r["from_ev"]) for r in json_lines(out) if r["schema"] not in ("slac", "sdp")]


def test_direction_from_the_port_the_sdp_response_announced(tmp_path, capsys):
    request, response = handshake([DIN_NAMESPACE], 1)
    frames = [udp_frame(False, v2gtp.SdpResponse(EVSE_IP, HIGH_SECC_PORT).to_frame()),
              segment(False, 7000, exi(response)),  # caught mid-way: the SECC's answer comes first
              segment(True, 9000, exi(SESSION_SETUP_REQ))]
    assert dissected(tmp_path, capsys, frames) == [("supportedAppProtocolRes", False), ("SessionSetupReq", True)]


def din_session_setup_res() -> bytes:
    from controller.formats.v2g import exi as codec

    fields = {"Header": {"SessionID": "0102030405060708"},
              "Body": {"SessionSetupRes": {"ResponseCode": "OK_NewSessionEstablished", "EVSEID": "00"}}}
    return exi(codec.encode("din", codec.from_json("din", "SessionSetupRes", fields)))


def test_without_handshake_or_sdp_a_response_first_comes_from_the_secc(tmp_path, capsys):
    answer = din_session_setup_res()
    frames = [segment(False, 7000, answer), segment(True, 9000, exi(SESSION_SETUP_REQ)),
              segment(False, 7000 + len(answer), answer)]
    assert dissected(tmp_path, capsys, frames) == [
        ("SessionSetupRes", False), ("SessionSetupReq", True), ("SessionSetupRes", False)]


def test_the_servers_port_from_one_handshake_directs_a_later_connection_caught_mid_way(tmp_path, capsys):
    request, response = handshake([DIN_NAMESPACE], 1)
    first = [segment(True, EV_ISN, b"", flags=0x02), segment(False, EVSE_ISN, b"", flags=0x12)]
    # Not a request or response that could tell: only the port says the SECC sent it.
    later = segment(False, 3000, v2gtp.build_frame(0x8002, b"\0"), ports=(LOW_EV_PORT + 1, HIGH_SECC_PORT))
    assert dissected(tmp_path, capsys, first + [later]) == [("PayloadType_0x8002", False)]


def test_a_segment_captured_twice_is_one_message(tmp_path, capsys):
    request, response = handshake([DIN_NAMESPACE], 1)
    twice = tcp_frame(True, EV_ISN + 1, exi(request))
    frames = [tcp_frame(True, EV_ISN, flags=0x02), tcp_frame(False, EVSE_ISN, flags=0x12), twice, twice,
              tcp_frame(False, EVSE_ISN + 1, exi(response))]
    assert dissected(tmp_path, capsys, frames) == [("supportedAppProtocolReq", True),
                                                   ("supportedAppProtocolRes", False)]


@pytest.mark.parametrize("chosen", [None, 7])
def test_a_failed_handshake_decodes_with_the_namespaces_the_car_offered(chosen, tmp_path, capsys):
    request, response = handshake([DIN_NAMESPACE, ISO2_NAMESPACE], chosen)
    frames = connection_frames(request, response, iso2_session_setup())
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "failed.pcap", frames)), "--json")
    last = json_lines(out)[-1]
    assert (last["schema"], last["type"], last["from_ev"]) == ("iso2", "SessionSetupReq", True)


def test_a_missing_handshake_response_decodes_with_the_namespaces_the_car_offered(tmp_path, capsys):
    request, _ = handshake([ISO2_NAMESPACE], 1)
    frames = [tcp_frame(True, EV_ISN, flags=0x02), tcp_frame(True, EV_ISN + 1, exi(request)),
              tcp_frame(True, EV_ISN + 1 + len(exi(request)), exi(iso2_session_setup()))]
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "lost.pcap", frames)), "--json")
    assert [(r["schema"], r["type"]) for r in json_lines(out)] == [
        ("appproto", "supportedAppProtocolReq"), ("iso2", "SessionSetupReq")]


def test_a_value_outside_the_schema_is_decoded_with_a_warning(tmp_path, capsys):
    from tests.v2g.test_exi_facets import four_phases

    request, response = handshake([ISO2_NAMESPACE], 1)
    frames = connection_frames(request, response, four_phases())
    status, out, _ = run(capsys, "pcap", str(write_capture(tmp_path / "phases.pcap", frames)), "--json")
    last = json_lines(out)[-1]
    assert (status, last["type"], "error" in last) == (0, "PowerDeliveryReq", False)
    warning = "ProfileEntry.ChargingProfileEntryMaxNumberOfPhasesInUse: 4 outside the schema's 1..3"
    assert last["warnings"] == [warning]
    table = run(capsys, "pcap", str(tmp_path / "phases.pcap"))[1].splitlines()
    assert f"[{warning}] " in table[-1]
    decoded = json.loads(run(capsys, "decode", "--schema", "iso2", four_phases().hex())[1])
    assert decoded["warnings"] == [warning]
    status, _, err = run(capsys, "encode", "--schema", "iso2", json.dumps(decoded))
    assert status == 2 and "value 4 out of range 1..3" in err
