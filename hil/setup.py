"""Rig setups (`hil/setups/<name>/rig.toml`): what the rig simulates behind a cabinet config.

`--setup` takes a setup's name, or the path of a cabinet file of one's own: the rig then simulates that
cabinet with the modules and car of the built-in setup for its module vendor. Cabinet overrides
(`--set KEY=VALUE`, as charger-controller takes them) apply to the rig's view and the controller's alike.
"""
from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from controller.formats.cabinet.config import CabinetConfig, load_config
from controller.formats.cabinet.loader import ConfigError, build

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
    # The simulated I/O boards' heartbeat watchdog, as the real board's (0.3 s). Longer only for a controller
    # on an emulated CPU (the vcan tier's guest runs Python about 10x slower), never to hide a slow controller.
    board_watchdog_s: float = 0.3
    name: str = ""
    cabinet_config: CabinetConfig | None = field(default=None, compare=False)
    cabinet_file: Path | None = None  # the cabinet TOML the controller loads
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE for the cabinet, given to the controller too


def setup_dir(name: str) -> Path:
    path = SETUPS_DIR / name
    if not (path / "rig.toml").is_file():
        known = sorted(p.name for p in SETUPS_DIR.iterdir() if (p / "rig.toml").is_file())
        raise ConfigError("--setup", f"unknown setup {name!r} (known: {', '.join(known)})")
    return path


def _rig_table(folder: Path) -> dict:
    try:
        return tomllib.loads((folder / "rig.toml").read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(folder / "rig.toml"), f"not valid TOML: {exc}") from None


def load_setup(name: str, overrides: tuple[str, ...] = ()) -> RigSetup:
    """A setup by name (hil/setups/NAME), or a cabinet file of one's own by path (contains / or ends .toml)."""
    if "/" in name or name.endswith(".toml"):
        return _own_cabinet(Path(name), tuple(overrides))
    folder = setup_dir(name)
    setup = build(RigSetup, _rig_table(folder), "")
    cabinet_file = folder / setup.cabinet
    cabinet = load_config(cabinet_file, tuple(overrides))
    return _named(setup, name, cabinet, cabinet_file, overrides)


def _named(setup: RigSetup, name: str, cabinet: CabinetConfig, cabinet_file: Path, overrides) -> RigSetup:
    for key, value in (("name", name), ("cabinet_config", cabinet), ("cabinet_file", cabinet_file),
                       ("overrides", tuple(overrides))):
        object.__setattr__(setup, key, value)
    return setup


def _own_cabinet(path: Path, overrides: tuple[str, ...]) -> RigSetup:
    if not path.is_file():
        raise ConfigError("--setup", f"no cabinet file at {path} (a setup name has no '/' and no .toml)")
    cabinet = load_config(path, overrides)
    for folder in sorted(p for p in SETUPS_DIR.iterdir() if (p / "rig.toml").is_file()):
        setup = build(RigSetup, _rig_table(folder), "")
        if setup.modules.vendor == cabinet.power.vendor:
            return _named(setup, path.stem, cabinet, path.resolve(), overrides)
    raise ConfigError("power.vendor", f"the rig simulates no {cabinet.power.vendor!r} modules")


def cabinet_path(name: str | RigSetup) -> Path:
    if isinstance(name, RigSetup):
        return name.cabinet_file or cabinet_path(name.name)
    folder = setup_dir(name)
    return folder / build(RigSetup, tomllib.loads((folder / "rig.toml").read_text()), "").cabinet


def private_can(setup: RigSetup) -> tuple[str, str] | None:
    """A private in-process bus for one run when the setup's buses are all `virtual`: nothing left over from
    another run in this process can talk on it. None otherwise (the setup's own buses)."""
    if all(c.interface == "virtual" for c in setup.cabinet_config.can.values()):
        return "virtual", f"{setup.name}-{uuid.uuid4().hex[:12]}"
    return None
