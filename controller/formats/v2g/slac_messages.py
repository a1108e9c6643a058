"""HomePlug AV / Green PHY management messages used by SLAC (ISO 15118-3), ethertype 0x88E1.

Frame: destination MAC, source MAC, ethertype, MMV (1 byte), MMTYPE (2 bytes little-endian), and for MMV >= 1
two fragmentation bytes, then the message body. MMTYPE's two low bits give the variant: REQ, CNF, IND, RSP.
Multi-byte numbers in bodies are little-endian. Frames on the wire are padded to 60 bytes; trailing
bytes after a fixed-size body are that padding and are ignored.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

ETHERTYPE_HOMEPLUG = 0x88E1
MMV_HOMEPLUG_AV_1_1 = 0x01
BROADCAST_MAC = b"\xff" * 6
_MIN_FRAME = 60
_ETHERNET_HEADER = 14

MMTYPE_NAMES: dict[int, str] = {
    0x6008: "CM_SET_KEY.REQ",
    0x6009: "CM_SET_KEY.CNF",
    0x600C: "CM_GET_KEY.REQ",
    0x600D: "CM_GET_KEY.CNF",
    0x6064: "CM_SLAC_PARM.REQ",
    0x6065: "CM_SLAC_PARM.CNF",
    0x606A: "CM_START_ATTEN_CHAR.IND",
    0x606E: "CM_ATTEN_CHAR.IND",
    0x606F: "CM_ATTEN_CHAR.RSP",
    0x6076: "CM_MNBC_SOUND.IND",
    0x6078: "CM_VALIDATE.REQ",
    0x6079: "CM_VALIDATE.CNF",
    0x607C: "CM_SLAC_MATCH.REQ",
    0x607D: "CM_SLAC_MATCH.CNF",
    0x6080: "CM_SLAC_USER_DATA.REQ",
    0x6081: "CM_SLAC_USER_DATA.CNF",
    0x6086: "CM_ATTEN_PROFILE.IND",
    0xA000: "VS_SW_VER.REQ",
    0xA001: "VS_SW_VER.CNF",
}


class SlacError(ValueError):
    """A HomePlug frame or SLAC message body that is too short or malformed; the message says which."""


def mmtype_name(mmtype: int) -> str:
    """Name of an MMTYPE, e.g. "CM_SLAC_PARM.REQ"; unknown ones by number, e.g. "VS_0xA14E" (vendor range)."""
    name = MMTYPE_NAMES.get(mmtype)
    if name is not None:
        return name
    prefix = "VS" if mmtype >= 0xA000 else "MMTYPE"
    return f"{prefix}_0x{mmtype:04X}"


def format_mac(mac: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in mac)


def _json_value(name: str, value: Any) -> Any:
    if isinstance(value, bytes):
        return format_mac(value) if len(value) == 6 else value.hex()
    if isinstance(value, tuple):
        return list(value)
    return value


@dataclass(frozen=True, kw_only=True)
class SlacMessage:
    """Base of the typed bodies. Subclasses declare fields in wire order and `_FORMAT` (struct, little-endian,
    reserved bytes as pad 'x'); a trailing `attenuation` tuple is a count byte plus one byte per group."""

    MMTYPE: ClassVar[int]
    FROM_EV: ClassVar[bool | None]  # None: between a host and its own modem, not across the cable
    _FORMAT: ClassVar[str]

    @property
    def name(self) -> str:
        return MMTYPE_NAMES[self.MMTYPE]

    @classmethod
    def from_body(cls, body: bytes) -> SlacMessage:
        fixed = struct.Struct(cls._FORMAT)
        if len(body) < fixed.size:
            raise SlacError(f"{MMTYPE_NAMES[cls.MMTYPE]} body needs {fixed.size} bytes, got {len(body)}")
        values = dict(zip(cls._fixed_names(), fixed.unpack_from(body)))
        if "attenuation" in {f.name for f in fields(cls)}:
            values["attenuation"] = cls._unpack_groups(body[fixed.size:])
        return cls(**values)

    def to_body(self) -> bytes:
        body = struct.pack(self._FORMAT, *(getattr(self, name) for name in self._fixed_names()))
        if "attenuation" in {f.name for f in fields(self)}:
            body += self._pack_groups()
        return body

    @classmethod
    def _fixed_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "attenuation"]

    @classmethod
    def _unpack_groups(cls, rest: bytes) -> tuple[int, ...]:
        if not rest or len(rest) < 1 + rest[0]:
            raise SlacError(f"{MMTYPE_NAMES[cls.MMTYPE]}: attenuation groups truncated")
        return tuple(rest[1:1 + rest[0]])

    def _pack_groups(self) -> bytes:
        groups: tuple[int, ...] = getattr(self, "attenuation")
        if len(groups) > 255 or any(not 0 <= g <= 255 for g in groups):
            raise SlacError("attenuation: at most 255 groups of 0..255 dB")
        return bytes((len(groups), *groups))

    def to_json(self) -> dict[str, Any]:
        result = {f.name: _json_value(f.name, getattr(self, f.name)) for f in fields(self)}
        run_id = getattr(self, "run_id", None)
        if run_id is not None and all(32 <= byte < 127 or byte == 0 for byte in run_id) and run_id.strip(b"\0"):
            result["run_id_text"] = run_id.rstrip(b"\0").decode("ascii")
        return result


@dataclass(frozen=True, kw_only=True)
class SlacParmReq(SlacMessage):
    MMTYPE = 0x6064
    FROM_EV = True
    _FORMAT = "<BB8s"
    application_type: int = 0
    security_type: int = 0
    run_id: bytes


@dataclass(frozen=True, kw_only=True)
class SlacParmCnf(SlacMessage):
    MMTYPE = 0x6065
    FROM_EV = False
    _FORMAT = "<6sBBB6sBB8s"
    msound_target: bytes = BROADCAST_MAC
    num_sounds: int = 10
    timeout: int = 6  # in units of 100 ms
    resp_type: int = 1
    forwarding_sta: bytes  # the EV's MAC
    application_type: int = 0
    security_type: int = 0
    run_id: bytes


@dataclass(frozen=True, kw_only=True)
class StartAttenCharInd(SlacMessage):
    MMTYPE = 0x606A
    FROM_EV = True
    _FORMAT = "<BBBBB6s8s"
    application_type: int = 0
    security_type: int = 0
    num_sounds: int = 10
    timeout: int = 6
    resp_type: int = 1
    forwarding_sta: bytes
    run_id: bytes


@dataclass(frozen=True, kw_only=True)
class MnbcSoundInd(SlacMessage):
    MMTYPE = 0x6076
    FROM_EV = True
    _FORMAT = "<BB17sB8s8x16s"
    application_type: int = 0
    security_type: int = 0
    sender_id: bytes = bytes(17)
    count: int  # sounds still to come
    run_id: bytes
    random: bytes = bytes(16)


@dataclass(frozen=True, kw_only=True)
class AttenCharInd(SlacMessage):
    MMTYPE = 0x606E
    FROM_EV = False
    _FORMAT = "<BB6s8s17s17sB"
    application_type: int = 0
    security_type: int = 0
    source_address: bytes  # the EV's MAC
    run_id: bytes
    source_id: bytes = bytes(17)
    resp_id: bytes = bytes(17)
    num_sounds: int
    attenuation: tuple[int, ...] = field(default=())  # average attenuation per carrier group, dB


@dataclass(frozen=True, kw_only=True)
class AttenCharRsp(SlacMessage):
    MMTYPE = 0x606F
    FROM_EV = True
    _FORMAT = "<BB6s8s17s17sB"
    application_type: int = 0
    security_type: int = 0
    source_address: bytes
    run_id: bytes
    source_id: bytes = bytes(17)
    resp_id: bytes = bytes(17)
    result: int = 0  # 0 = success


@dataclass(frozen=True, kw_only=True)
class AttenProfileInd(SlacMessage):
    """Sent by the EVSE's own modem to its host: the attenuation it measured for one EV sound."""

    MMTYPE = 0x6086
    FROM_EV = None
    _FORMAT = "<6s"
    pev_mac: bytes
    attenuation: tuple[int, ...] = field(default=())

    @classmethod
    def _unpack_groups(cls, rest: bytes) -> tuple[int, ...]:
        # Count byte, one reserved byte, then the groups.
        if len(rest) < 2 or len(rest) < 2 + rest[0]:
            raise SlacError("CM_ATTEN_PROFILE.IND: attenuation groups truncated")
        return tuple(rest[2:2 + rest[0]])

    def _pack_groups(self) -> bytes:
        packed = super()._pack_groups()
        return packed[:1] + b"\0" + packed[1:]


@dataclass(frozen=True, kw_only=True)
class SlacMatchReq(SlacMessage):
    MMTYPE = 0x607C
    FROM_EV = True
    _FORMAT = "<BBH17s6s17s6s8s8x"
    application_type: int = 0
    security_type: int = 0
    mvf_length: int = 0x3E
    pev_id: bytes = bytes(17)
    pev_mac: bytes
    evse_id: bytes = bytes(17)
    evse_mac: bytes
    run_id: bytes


@dataclass(frozen=True, kw_only=True)
class SlacMatchCnf(SlacMessage):
    MMTYPE = 0x607D
    FROM_EV = False
    _FORMAT = "<BBH17s6s17s6s8s8x7sx16s"
    application_type: int = 0
    security_type: int = 0
    mvf_length: int = 0x56
    pev_id: bytes = bytes(17)
    pev_mac: bytes
    evse_id: bytes = bytes(17)
    evse_mac: bytes
    run_id: bytes
    nid: bytes  # network identifier, 7 bytes
    nmk: bytes  # network membership key, 16 bytes


@dataclass(frozen=True, kw_only=True)
class SetKeyReq(SlacMessage):
    """Host to its own modem: join the logical network NID with key NMK."""

    MMTYPE = 0x6008
    FROM_EV = None
    _FORMAT = "<BIIBHBB7sB16s"
    key_type: int = 1  # NMK
    my_nonce: int = 0
    your_nonce: int = 0
    pid: int = 4  # HLE protocol
    prn: int = 0
    pmn: int = 0
    cco_capability: int = 0
    nid: bytes
    new_eks: int = 1
    new_key: bytes


@dataclass(frozen=True, kw_only=True)
class SetKeyCnf(SlacMessage):
    MMTYPE = 0x6009
    FROM_EV = None
    _FORMAT = "<BIIBHBB"
    result: int = 0
    my_nonce: int = 0
    your_nonce: int = 0
    pid: int = 4
    prn: int = 0
    pmn: int = 0
    cco_capability: int = 0


@dataclass(frozen=True, kw_only=True)
class ValidateReq(SlacMessage):
    MMTYPE = 0x6078
    FROM_EV = True
    _FORMAT = "<BBB"
    signal_type: int = 0
    timer: int = 0
    result: int = 1


@dataclass(frozen=True, kw_only=True)
class ValidateCnf(SlacMessage):
    MMTYPE = 0x6079
    FROM_EV = False
    _FORMAT = "<BBB"
    signal_type: int = 0
    toggle_num: int = 0
    result: int = 1


MESSAGE_CLASSES: dict[int, type[SlacMessage]] = {
    cls.MMTYPE: cls
    for cls in (SlacParmReq, SlacParmCnf, StartAttenCharInd, MnbcSoundInd, AttenCharInd, AttenCharRsp,
                AttenProfileInd, SlacMatchReq, SlacMatchCnf, SetKeyReq, SetKeyCnf, ValidateReq, ValidateCnf)
}


@dataclass(frozen=True)
class UnknownMessage:
    """A management message this module has no layout for: kept as raw bytes, named by number."""

    mmtype: int
    body: bytes
    FROM_EV: ClassVar[bool | None] = None

    @property
    def name(self) -> str:
        return mmtype_name(self.mmtype)

    def to_body(self) -> bytes:
        return self.body

    def to_json(self) -> dict[str, Any]:
        return {"mmtype": f"{self.mmtype:#06x}", "body": self.body.rstrip(b"\0").hex()}


@dataclass(frozen=True)
class HomePlugFrame:
    """One parsed 0x88E1 Ethernet frame."""

    destination: bytes
    source: bytes
    mmv: int
    mmtype: int
    message: SlacMessage | UnknownMessage

    @property
    def name(self) -> str:
        return self.message.name

    @property
    def from_ev(self) -> bool | None:
        return self.message.FROM_EV

    def to_json(self) -> dict[str, Any]:
        return {"destination": format_mac(self.destination), "source": format_mac(self.source),
                "mmv": self.mmv, **self.message.to_json()}


def parse_message(mmtype: int, body: bytes) -> SlacMessage | UnknownMessage:
    """Typed message for a known MMTYPE, UnknownMessage otherwise; SlacError if a known body is short."""
    cls = MESSAGE_CLASSES.get(mmtype)
    return UnknownMessage(mmtype, bytes(body)) if cls is None else cls.from_body(bytes(body))


def parse_frame(frame: bytes) -> HomePlugFrame:
    """Parse a whole Ethernet frame carrying a HomePlug management message (no VLAN tag)."""
    if len(frame) < _ETHERNET_HEADER:
        raise SlacError(f"Ethernet frame needs at least {_ETHERNET_HEADER} bytes, got {len(frame)}")
    ethertype = struct.unpack_from(">H", frame, 12)[0]
    if ethertype != ETHERTYPE_HOMEPLUG:
        raise SlacError(f"ethertype {ethertype:#06x} is not HomePlug AV ({ETHERTYPE_HOMEPLUG:#06x})")
    return parse_payload(frame[:6], frame[6:12], frame[_ETHERNET_HEADER:])


def parse_payload(destination: bytes, source: bytes, payload: bytes) -> HomePlugFrame:
    """Parse the bytes after the ethertype (MMV, MMTYPE, fragment info, body)."""
    if len(payload) < 3:
        raise SlacError(f"HomePlug management header needs 3 bytes, got {len(payload)}")
    mmv = payload[0]
    mmtype = struct.unpack_from("<H", payload, 1)[0]
    if mmv != 0 and len(payload) < 5:
        raise SlacError("HomePlug management header truncated before the fragment field")
    # HomePlug AV 1.0 (MMV 0, used by vendor messages) has no fragmentation field.
    body = payload[3:] if mmv == 0 else payload[5:]
    return HomePlugFrame(bytes(destination), bytes(source), mmv, mmtype, parse_message(mmtype, body))


def build_frame(destination: bytes, source: bytes, message: SlacMessage | UnknownMessage,
                mmv: int = MMV_HOMEPLUG_AV_1_1) -> bytes:
    """A complete Ethernet frame, padded to the 60-byte minimum."""
    if len(destination) != 6 or len(source) != 6:
        raise SlacError("MAC addresses must be 6 bytes")
    mmtype = message.mmtype if isinstance(message, UnknownMessage) else message.MMTYPE
    header = destination + source + struct.pack(">H", ETHERTYPE_HOMEPLUG) + struct.pack("<BH", mmv, mmtype)
    if mmv != 0:
        header += b"\0\0"  # not fragmented
    frame = header + message.to_body()
    return frame + bytes(max(0, _MIN_FRAME - len(frame)))
