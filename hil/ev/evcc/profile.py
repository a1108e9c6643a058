"""Car profiles: what a car offers in the handshake and which quirks it has (hil/ev/profiles/*.toml)."""
from __future__ import annotations

import math

import tomllib
from dataclasses import dataclass
from pathlib import Path

from controller.formats.cabinet.loader import ConfigError, build

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"


@dataclass(frozen=True)
class OfferedProtocol:
    namespace: str
    major: int
    minor: int
    schema_id: int
    priority: int


@dataclass(frozen=True)
class CarProfile:
    name: str
    protocols: tuple[OfferedProtocol, ...]
    evcc_id: str = "0465650064c3"            # 6 bytes, hex (the car's MAC)
    energy_transfer_mode: str = "DC_extended"
    one_byte_session_id: bool = False        # SessionSetupReq header SessionID = 00 (seen on Teslas)
    sdp_tls: bool = False                    # ask for TLS in SDP (a no-TLS answer is accepted)
    service_details: bool = False            # ISO-2: ServiceDetailReq for each service in ServiceDiscoveryRes
    request_timeout_s: float = 2.0           # DIN/ISO-2 EV request timeouts
    current_demand_timeout_s: float = 0.25
    power_delivery_timeout_s: float = 5.0    # ISO-2 allows 5 s; DIN cars use 2 s, 5 s is the safer wait
    service_detail_timeout_s: float = 5.0    # ISO-2 ServiceDetail: 5 s
    # every EV timeout and the strict car's answer-time checks multiplied by this: 1 = the standards' times;
    # more only for a rig on an emulated CPU (QEMU TCG runs everything about 10x slower)
    timing_scale: float = 1.0

    def check(self) -> None:
        if not self.protocols:
            raise ValueError("a car offers at least one protocol")
        if len(bytes.fromhex(self.evcc_id)) != 6:
            raise ValueError("evcc_id must be 6 bytes of hex")
        for name in ("request_timeout_s", "current_demand_timeout_s", "power_delivery_timeout_s",
                     "service_detail_timeout_s", "timing_scale"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(name, f"must be a positive number of seconds (got {value})")


def load_profile(name_or_path: str) -> CarProfile:
    """A profile by name (hil/ev/profiles/NAME.toml) or by path; ConfigError naming the key otherwise."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.toml"
    try:
        table = tomllib.loads(path.read_text())
    except OSError as exc:
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))
        raise ConfigError(str(path), f"cannot read car profile ({exc.strerror}); known: {known}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from None
    return build(CarProfile, table, "")
