"""Targets for the files we read: the cabinet TOML (load_config, with --set overrides) and pcap/pcapng
captures (what `charger-v2g pcap` dissects and what `charger-hil replay` turns into sessions)."""
from __future__ import annotations

import os
import tempfile

from tools.fuzz import seeds
from tools.fuzz.target import OneInput, Target

MAX_OVERRIDES = 4


def _config() -> Target:
    from controller.formats.cabinet.loader import ConfigError

    def build() -> OneInput:
        from controller.formats.cabinet.config import load_config

        handle, path = tempfile.mkstemp(prefix="fuzz-cabinet-", suffix=".toml")
        os.close(handle)

        def one(data: bytes) -> None:
            # the file's bytes, then after a NUL byte up to four --set overrides, one a line
            text, _, rest = data.partition(b"\0")
            overrides = tuple(rest.decode("utf-8", "replace").splitlines()[:MAX_OVERRIDES])
            with open(path, "wb") as file:
                file.write(text)
            load_config(path, overrides)
        return one

    def seed() -> list[bytes]:
        from hil.setup import cabinet_path

        out = [cabinet_path(name).read_bytes() for name in ("desk", "nevi")]
        out.append(out[0] + b"\0connectors[0].max_current_a=50\nname=x")
        out.append(b"name = \"x\"\n[console]\nport = 3\n")
        return out

    return Target("config", "controller.formats.cabinet.config.load_config (cabinet TOML and overrides)", (ConfigError,), build,
                  seed, 8192)


def _pcap() -> Target:
    from hil.replay_sessions import ReplayError
    from controller.formats.capture.pcap import CaptureError

    def build() -> OneInput:
        from hil.replay_sessions import capture_sessions
        from controller.formats.capture.dissect import CaptureDissector, dissect
        from controller.formats.capture.pcap import read_packets

        def one(data: bytes) -> None:
            dissector = CaptureDissector()
            for message in dissect(read_packets(data), dissector):  # charger-v2g pcap
                message.to_json()
            capture_sessions(data)  # charger-hil replay
        return one

    def seed() -> list[bytes]:
        return seeds.capture_heads() + [seeds.small_pcap()]

    return Target("pcap", "tools.capture read_packets + dissect, hil.replay_sessions.capture_sessions",
                  (CaptureError, ReplayError), build, seed, 8192)


def targets() -> list[Target]:
    return [_config(), _pcap()]
