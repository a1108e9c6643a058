"""V2gPcapRecorder: two connectors' SLAC frames and V2G streams in one pcap, read back apart."""
from __future__ import annotations

import ipaddress
import struct

import pytest

from controller.formats.v2g import slac_messages as hp
from controller.formats.v2g import v2gtp
from hil.ev.evcc.recorder import HOLD_S, V2gPcapRecorder
from controller.formats.capture import layers
from controller.formats.capture.dissect import dissect_file
from controller.formats.capture.pcap import read_capture
from tools.v2g_cli import main

pytestmark = pytest.mark.timeout(30)

# supportedAppProtocolReq offering DIN as SchemaID 1, the OK answer choosing it, a DIN SessionSetupReq.
HANDSHAKE_REQ = bytes.fromhex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040")
HANDSHAKE_RES = bytes.fromhex("80400040")
SESSION_SETUP_REQ = bytes.fromhex("809a02000000000000000011d00000")
T0 = 1_700_000_000.0
# Per connector: the car's MAC, the SECC's MAC, the SECC's address and port (what SDP says).
CARS = {
    1: (bytes.fromhex("0a0000000103"), bytes.fromhex("0a0000000101"), "fe80::8:1", 15200),
    2: (bytes.fromhex("0a0000000203"), bytes.fromhex("0a0000000201"), "fe80::8:2", 15201),
}


def _slac(recorder: V2gPcapRecorder, cid: int, t: float) -> None:
    ev_mac, secc_mac, _, _ = CARS[cid]
    run_id = f"RUN0000{cid}".encode()
    recorder.slac_frame(cid, hp.build_frame(hp.BROADCAST_MAC, ev_mac, hp.SlacParmReq(run_id=run_id)), "to_evse",
                        t=t)
    recorder.slac_frame(cid, hp.build_frame(ev_mac, secc_mac, hp.SlacParmCnf(run_id=run_id, forwarding_sta=ev_mac)),
                        "to_ev", t=t + 0.01)
    profile = hp.AttenProfileInd(pev_mac=ev_mac, attenuation=tuple(range(58)))
    recorder.slac_frame(cid, hp.build_frame(secc_mac, bytes.fromhex("02b052000001"), profile), "to_evse", t=t + 0.02)


def _session(recorder: V2gPcapRecorder, cid: int, t: float) -> None:
    _, _, secc, port = CARS[cid]
    stream = recorder.stream(cid)
    response = v2gtp.SdpResponse(ipaddress.IPv6Address(secc).packed, port)
    stream.sdp(v2gtp.SdpRequest(v2gtp.SDP_SECURITY_NONE), response, t, t + 0.01)
    stream.connected(t + 0.02)
    stream.exchange(HANDSHAKE_REQ, t + 0.03, HANDSHAKE_RES, t + 0.04)
    stream.exchange(SESSION_SETUP_REQ, t + 0.05, None, None)  # no answer: the car timed out


def _two_connectors(path) -> None:
    recorder = V2gPcapRecorder(str(path))
    _slac(recorder, 1, T0)
    _slac(recorder, 2, T0 + 0.015)          # interleaves with connector 1's SLAC
    _session(recorder, 2, T0 + 0.5)
    _session(recorder, 1, T0 + 0.3)         # reported later than connector 2's, but happened earlier
    recorder.close()


def _internet_checksum_ok(data: bytes) -> bool:
    data += bytes(len(data) % 2)
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def test_two_connectors_read_back_as_two_tcp_streams_and_named_slac(tmp_path):
    path = tmp_path / "rig.pcap"
    _two_connectors(path)
    messages = dissect_file(path)
    slac = [(m.type, m.from_ev, m.fields.get("run_id_text")) for m in messages if m.schema == "slac"]
    assert slac == [
        ("CM_SLAC_PARM.REQ", True, "RUN00001"), ("CM_SLAC_PARM.CNF", False, "RUN00001"),
        ("CM_SLAC_PARM.REQ", True, "RUN00002"), ("CM_ATTEN_PROFILE.IND", None, None),
        ("CM_SLAC_PARM.CNF", False, "RUN00002"), ("CM_ATTEN_PROFILE.IND", None, None)]
    v2g = [m for m in messages if m.protocol == "V2G"]
    streams = {m.tcp_stream for m in v2g}
    assert len(streams) == 2
    for number in streams:
        assert [(m.type, m.from_ev) for m in v2g if m.tcp_stream == number] == [
            ("supportedAppProtocolReq", True), ("supportedAppProtocolRes", False), ("SessionSetupReq", True)]
    assert not [m for m in messages if m.error]
    # connector 1's session happened first, so its stream is the first one in the (time-ordered) file
    sdp_ports = [m.fields["port"] for m in messages if m.type == "SdpResponse"]
    assert sdp_ports == [CARS[1][3], CARS[2][3]]


def test_the_file_is_in_time_order_and_each_connector_has_its_own_addresses(tmp_path):
    path = tmp_path / "rig.pcap"
    _two_connectors(path)
    packets = read_capture(path)
    assert [p.timestamp_ns for p in packets] == sorted(p.timestamp_ns for p in packets)
    assert packets[0].timestamp == pytest.approx(T0)
    seen: dict[tuple[bytes, str, int], int] = {}  # (car MAC, car address, car TCP port) -> frames
    for packet in packets:
        frame = layers.parse_ethernet(packet.data)
        ip = layers.parse_ip(frame.ethertype, frame.payload)
        if ip is None or ip.protocol != layers.PROTOCOL_TCP:
            continue
        segment = layers.parse_tcp(ip.payload)
        pseudo = (ipaddress.IPv6Address(ip.source).packed + ipaddress.IPv6Address(ip.destination).packed
                  + struct.pack("!I3xB", len(ip.payload), 6))
        assert _internet_checksum_ok(pseudo + ip.payload)
        from_ev = segment.source_port not in (CARS[1][3], CARS[2][3])
        car = (frame.source, ip.source, segment.source_port) if from_ev else (
            frame.destination, ip.destination, segment.destination_port)
        seen[car] = seen.get(car, 0) + 1
    # the car's MAC is the one its SLAC frames showed, its address the EUI-64 link-local one made from it
    assert set(seen) == {(CARS[1][0], "fe80::800:ff:fe00:103", 50010), (CARS[2][0], "fe80::800:ff:fe00:203", 50020)}


def test_cli_table_shows_slac_names_and_the_tcp_stream_column(tmp_path, capsys):
    path = tmp_path / "rig.pcap"
    _two_connectors(path)
    assert main(["pcap", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["time", "direction", "proto", "type", "tcp", "summary"]
    assert "CM_SLAC_PARM.REQ" in lines[1] and "RunID=RUN00001" in lines[1]
    assert any("CM_ATTEN_PROFILE.IND" in line and "groups=58" in line for line in lines)
    handshakes = [line.split()[4] for line in lines if "supportedAppProtocolReq" in line]
    assert handshakes == ["0", "1"]


def test_a_reconnect_on_one_connector_is_a_new_tcp_stream(tmp_path):
    path = tmp_path / "again.pcap"
    recorder = V2gPcapRecorder(str(path))
    _session(recorder, 1, T0)
    recorder.stream(1).connected(T0 + 1)
    recorder.stream(1).exchange(HANDSHAKE_REQ, T0 + 1.1, HANDSHAKE_RES, T0 + 1.2)
    recorder.close()
    handshakes = [m.tcp_stream for m in dissect_file(path) if m.type == "supportedAppProtocolReq"]
    assert handshakes == [0, 1]


def test_loopback_secc_keeps_loopback_addresses_and_made_up_macs_per_connector(tmp_path):
    path = tmp_path / "loop.pcap"
    recorder = V2gPcapRecorder(str(path))
    for cid in (3, 4):
        stream = recorder.stream(cid)
        stream.sdp(v2gtp.SdpRequest(v2gtp.SDP_SECURITY_NONE), v2gtp.SdpResponse(bytes(15) + b"\x01", 40000 + cid),
                   T0 + cid, T0 + cid)
        stream.connected(T0 + cid)
    recorder.close()
    sources = set()
    for packet in read_capture(path):
        frame = layers.parse_ethernet(packet.data)
        ip = layers.parse_ip(frame.ethertype, frame.payload)
        if ip.protocol == layers.PROTOCOL_TCP and layers.parse_tcp(ip.payload).flags == layers.TCP_SYN:
            sources.add((frame.source.hex(), ip.source, layers.parse_tcp(ip.payload).source_port))
    assert sources == {("020000ec0303", "::1", 50030), ("020000ec0403", "::1", 50040)}


def test_records_older_than_the_hold_are_written_before_close(tmp_path):
    path = tmp_path / "long.pcap"
    recorder = V2gPcapRecorder(str(path))
    frame = hp.build_frame(hp.BROADCAST_MAC, CARS[1][0], hp.SlacParmReq(run_id=b"RUN00001"))
    recorder.slac_frame(1, frame, "to_evse", t=T0)
    recorder.slac_frame(1, frame, "to_evse", t=T0 + HOLD_S + 1)
    recorder._file.flush()
    assert len(read_capture(path)) == 1  # the first; the second waits for late reports
    recorder.close()
    assert len(read_capture(path)) == 2


@pytest.mark.parametrize(("call", "reason"), [
    (lambda r: r.slac_frame(1, b"\x00" * 60, "sideways"), "direction must be one of"),
    (lambda r: r.stream(256), "connector id must be an integer 0..255"),
    (lambda r: r.stream("1"), "connector id must be an integer 0..255"),
])
def test_bad_arguments_are_refused_with_the_reason(tmp_path, call, reason):
    recorder = V2gPcapRecorder(str(tmp_path / "x.pcap"))
    with pytest.raises(ValueError, match=reason):
        call(recorder)
    recorder.close()


def test_recording_after_close_is_refused(tmp_path):
    recorder = V2gPcapRecorder(str(tmp_path / "x.pcap"))
    recorder.close()
    recorder.close()  # twice is harmless
    with pytest.raises(ValueError, match="closed"):
        recorder.slac_frame(1, b"\x00" * 60, "to_ev", t=T0)
