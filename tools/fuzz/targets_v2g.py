"""Targets for the V2G wires: EXI documents (AppProtocol, DIN, ISO-2), V2GTP framing, SDP, SLAC/HomePlug."""
from __future__ import annotations

from tools.fuzz import seeds
from tools.fuzz.target import OneInput, PropertyBroken, Target


def _exi(schema: str) -> Target:
    from controller.formats.v2g.exi import ExiError

    def build() -> OneInput:
        from controller.formats.v2g import exi

        def one(data: bytes) -> None:
            message = exi.decode(schema, data)
            exi.message_type(message)
            exi.to_json(message)
            again = exi.decode(schema, exi.encode(schema, message))  # or ExiError saying why it cannot
            if again != message:
                raise PropertyBroken(f"{exi.message_type(message)} decodes differently once encoded again")
        return one

    def seed() -> list[bytes]:
        made = {"appproto": [bytes.fromhex("8000dbab9371d3234b71d1b981899189d191818991d26b9b3a232b30020000040040")],
                "din": [bytes.fromhex("809a0211")], "iso2": [bytes.fromhex("809802")]}[schema]
        return list(seeds.exi_payloads()[schema]) + made

    return Target(f"exi-{schema}", f"controller.formats.v2g.exi.decode({schema!r}, ...)", (ExiError,), build, seed, 2048)


def _v2gtp() -> Target:
    from controller.formats.v2g.v2gtp import V2gtpError

    def build() -> OneInput:
        from controller.formats.v2g import v2gtp

        def one(data: bytes) -> None:
            # the same bytes as one datagram, and as a TCP stream cut at a point the input chooses
            try:
                v2gtp.parse_frame(data)
            except V2gtpError:
                pass
            cut = data[0] % (len(data) + 1) if data else 0
            buffer = b""
            for chunk in (data[:cut], data[cut:]):
                buffer += chunk
                while (found := v2gtp.next_frame(buffer)) is not None:
                    header, payload = found
                    if len(payload) != header.payload_length:
                        raise PropertyBroken(f"payload of {len(payload)} bytes, header says {header.payload_length}")
                    buffer = buffer[header.frame_length:]
        return one

    return Target("v2gtp", "controller.formats.v2g.v2gtp parse_frame / next_frame", (V2gtpError,), build,
                  seeds.v2gtp_frames, 4096)


def _sdp() -> Target:
    def build() -> OneInput:
        import socket

        from controller.formats.v2g import v2gtp
        from controller.v2g.sdp import SdpServer

        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)  # never bound or read: _parse only
        server = SdpServer(sock, secc_address="fe80::1", secc_port=50000)
        source = ("fe80::2", 50000, 0, 0)

        def one(data: bytes) -> None:
            request = server._parse(data, source)  # the server's receive path: drops what does not parse
            if request is not None:
                request.to_json()
            try:
                v2gtp.parse_sdp(data).to_json()  # the dissector's reading of either direction
            except v2gtp.V2gtpError:
                pass
        return one

    return Target("sdp", "controller.v2g.sdp SdpServer._parse, v2gtp.parse_sdp", (), build, seeds.sdp_datagrams, 64)


def _slac() -> Target:
    from controller.formats.v2g.slac_messages import SlacError

    def build() -> OneInput:
        from controller.formats.v2g import slac_messages

        def one(data: bytes) -> None:
            try:
                frame = slac_messages.parse_frame(data)
            except SlacError:
                frame = None
            if frame is not None:
                frame.to_json()
                if not isinstance(frame.message, slac_messages.UnknownMessage):
                    again = slac_messages.parse_frame(
                        slac_messages.build_frame(frame.destination, frame.source, frame.message, frame.mmv))
                    if again.message != frame.message:
                        raise PropertyBroken(f"{frame.name} does not survive build_frame: {again.message}")
        return one

    def seed() -> list[bytes]:
        made = bytes.fromhex("ffffffffffff02000000000188e1016460000000") + bytes(40)  # CM_SLAC_PARM.REQ
        return list(seeds.homeplug_frames()) + [made]

    return Target("slac", "controller.formats.v2g.slac_messages.parse_frame (+ build_frame round trip)", (SlacError,),
                  build, seed, 1600)


def targets() -> list[Target]:
    return [_exi("appproto"), _exi("din"), _exi("iso2"), _v2gtp(), _sdp(), _slac()]

