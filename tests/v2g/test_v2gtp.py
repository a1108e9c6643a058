import pytest

from controller.formats.v2g import v2gtp
from controller.formats.v2g.v2gtp import SdpRequest, SdpResponse, V2gtpError, V2gtpHeader

pytestmark = pytest.mark.timeout(10)

LINK_LOCAL = bytes.fromhex("fe800000000000000000000000000001")


def test_exi_frame_has_the_standard_header():
    frame = v2gtp.build_frame(v2gtp.PAYLOAD_EXI, b"\x80\x40\x00\x40")
    assert frame == bytes.fromhex("01fe8001 00000004 80400040")


def test_header_round_trip():
    header = v2gtp.parse_header(v2gtp.build_header(0x9001, 20))
    assert header == V2gtpHeader(0x9001, 20)
    assert header.frame_length == 28


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01\xfe\x80\x01", "needs 8 bytes"),
        (bytes.fromhex("02fd800100000000"), "bad V2GTP version"),
        (bytes.fromhex("01ff800100000000"), "bad V2GTP version"),
        (bytes.fromhex("01fe8001ffffffff"), "exceeds the limit"),
    ],
)
def test_bad_headers_are_rejected_with_a_reason(data, reason):
    with pytest.raises(V2gtpError, match=reason):
        v2gtp.parse_header(data)


def test_payload_limit_is_configurable():
    header = v2gtp.build_header(v2gtp.PAYLOAD_EXI, 100)
    assert v2gtp.parse_header(header, max_payload_length=100).payload_length == 100
    with pytest.raises(V2gtpError, match="limit of 99"):
        v2gtp.parse_header(header, max_payload_length=99)


def test_build_rejects_values_that_do_not_fit():
    with pytest.raises(V2gtpError):
        v2gtp.build_header(0x10000, 0)
    with pytest.raises(V2gtpError):
        v2gtp.build_header(v2gtp.PAYLOAD_EXI, 1 << 32)


def test_next_frame_waits_for_complete_frames_and_cuts_one_at_a_time():
    first = v2gtp.build_frame(v2gtp.PAYLOAD_EXI, b"abc")
    second = v2gtp.build_frame(v2gtp.PAYLOAD_EXI, b"defgh")
    stream = first + second
    assert v2gtp.next_frame(stream[:5]) is None
    assert v2gtp.next_frame(stream[:10]) is None
    header, payload = v2gtp.next_frame(stream)
    assert (header.payload_length, payload) == (3, b"abc")
    header, payload = v2gtp.next_frame(stream[header.frame_length:])
    assert payload == b"defgh"


def test_next_frame_raises_on_a_bad_complete_header():
    with pytest.raises(V2gtpError):
        v2gtp.next_frame(b"GET / HTTP/1.1\r\n")


def test_parse_frame_requires_the_exact_length():
    frame = v2gtp.build_frame(v2gtp.PAYLOAD_SDP_REQUEST, b"\x10\x00")
    assert v2gtp.parse_frame(frame)[1] == b"\x10\x00"
    with pytest.raises(V2gtpError, match="announces 2 payload bytes"):
        v2gtp.parse_frame(frame + b"\x00")


def test_sdp_request_bytes_and_round_trip():
    request = SdpRequest(security=v2gtp.SDP_SECURITY_TLS)
    assert request.to_frame() == bytes.fromhex("01fe9000000000020000")
    assert v2gtp.parse_sdp(request.to_frame()) == request
    assert request.to_json() == {"security": "TLS", "transport": "TCP"}


def test_sdp_response_bytes_and_round_trip():
    response = SdpResponse(LINK_LOCAL, 15118)
    frame = response.to_frame()
    assert frame[:8] == bytes.fromhex("01fe900100000014")
    assert frame[8:] == LINK_LOCAL + bytes.fromhex("3b0e1000")
    assert v2gtp.parse_sdp(frame) == response
    assert response.to_json() == {"address": "fe80::1", "port": 15118, "security": "none", "transport": "TCP"}


def test_sdp_unknown_codes_are_shown_by_number():
    assert SdpRequest(0x42, 0x10).to_json() == {"security": "0x42", "transport": "UDP"}


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (bytes.fromhex("01fe900000000003100000"), "must be 2 bytes"),
        (bytes.fromhex("01fe90010000000200"), "announces 2"),
        (bytes.fromhex("01fe9001000000021000"), "must be 20 bytes"),
        (bytes.fromhex("01fe8001000000021000"), "is not SDP"),
    ],
)
def test_bad_sdp_datagrams_are_rejected(datagram, reason):
    with pytest.raises(V2gtpError, match=reason):
        v2gtp.parse_sdp(datagram)


def test_sdp_response_validates_its_fields():
    with pytest.raises(V2gtpError, match="16 bytes"):
        SdpResponse(b"\x00" * 4, 15118)
    with pytest.raises(V2gtpError, match="port"):
        SdpResponse(LINK_LOCAL, 70000)
