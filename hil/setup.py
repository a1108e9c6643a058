"""Rig setups (`hil/setups/<name>/rig.toml`): what the rig simulates behind a cabinet config."""
from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from controller.config import CabinetConfig, load_config
from controller.config_loader import ConfigError, build

SETUPS_DIR = Path(__file__).resolve().parent / "setups"


@dataclass(frozen=True)
class ModuleSimConfig:
    vendor: str
    max_voltage_v: float = 1000.0
    min_voltage_v: float = 150.0
    max_current_a: float = 100.0
    max_power_kw: float = 30.0
    slew_v_per_s: float = 2000.0
    comm_timeout_s: float = 10.0


@dataclass(frozen=True)
class CarConfig:
    capacity_kwh: float
    initial_soc: float
    target_soc: float
    ocv_empty_v: float
    ocv_full_v: float
    internal_resistance_ohm: float
    max_voltage_v: float
    max_current_a: float
    taper_start_soc: float = 80.0
    request_period_s: float = 0.1

    def check(self) -> None:
        if not 0 <= self.initial_soc < self.target_soc <= 100:
            raise ValueError("need 0 <= initial_soc < target_soc <= 100")


@dataclass(frozen=True)
class RigSetup:
    cabinet: str
    modules: ModuleSimConfig
    car: CarConfig
    tick_s: float = 0.01
    name: str = ""
    cabinet_config: CabinetConfig | None = field(default=None, compare=False)


def setup_dir(name: str) -> Path:
    path = SETUPS_DIR / name
    if not (path / "rig.toml").is_file():
        known = sorted(p.name for p in SETUPS_DIR.iterdir() if (p / "rig.toml").is_file())
        raise ConfigError("--setup", f"unknown setup {name!r} (known: {', '.join(known)})")
    return path


def load_setup(name: str) -> RigSetup:
    folder = setup_dir(name)
    try:
        table = tomllib.loads((folder / "rig.toml").read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(folder / "rig.toml"), f"not valid TOML: {exc}") from None
    setup = build(RigSetup, table, "")
    cabinet = load_config(folder / setup.cabinet)
    object.__setattr__(setup, "name", name)
    object.__setattr__(setup, "cabinet_config", cabinet)
    return setup


def cabinet_path(name: str) -> Path:
    folder = setup_dir(name)
    return folder / build(RigSetup, tomllib.loads((folder / "rig.toml").read_text()), "").cabinet


def private_can(setup: RigSetup) -> tuple[str, str] | None:
    """A private in-process bus for one run when the setup's buses are all `virtual`: nothing left over from
    another run in this process can talk on it. None otherwise (the setup's own buses)."""
    if all(c.interface == "virtual" for c in setup.cabinet_config.can.values()):
        return "virtual", f"{setup.name}-{uuid.uuid4().hex[:12]}"
    return None
