"""`charger-hil run --csms URL`: the controller is pointed at an outside CSMS and the rig starts none.

The password reaches the controller only through a file (mode 0600, removed after the run): a child
controller's command line is readable by every user of the machine (ps), so it never carries it. A car
that needs an authorization keeps asking (Authorization Ongoing, as real cars do) for up to `auth_wait_s`
while the outside CSMS decides, e.g. with a RequestStartTransaction.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from controller.formats.cabinet.config import ConfigError, OcppConfig
from hil.scenarios import Scenario, ScenarioRefused

AUTH_WAIT_S = 120.0
# scenarios whose rig CSMS only authorizes (and may stop): an outside CSMS can take that part
AUTHORIZING_ROLES = ("remote-start", "reservation")  # with an outside CSMS, the CSMS authorizes (and reserves)


@dataclass
class OutsideCsms:
    url: str
    station_id: str = ""  # empty: the cabinet's [ocpp] station_id, or its name
    password: str = ""  # given on charger-hil's own command line
    password_file: str = ""
    root_file: str = ""  # the CSMS root certificate for wss:// (else the cabinet's ocpp.csms_root_file)
    auth_wait_s: float = AUTH_WAIT_S
    overrides: list[str] = dataclasses.field(default_factory=list)  # for the controller, set by prepare()
    _written: Path | None = None

    def prepare(self, scenario: Scenario, cabinet_ocpp: OcppConfig) -> Scenario:
        """Check the options, make the controller's overrides, and return the scenario as it is judged."""
        adapted = self.scenario_for(scenario)
        self.overrides = self.controller_overrides(scenario, cabinet_ocpp)
        return adapted

    def checked(self, cabinet_ocpp: OcppConfig) -> OcppConfig:
        """The [ocpp] section the controller will run with; ConfigError (one line, exit 2) if it cannot work."""
        if self.password and self.password_file:
            raise ConfigError("--csms-password", "give either --csms-password or --csms-password-file")
        profile = cabinet_ocpp.security_profile
        if self.url.startswith("ws://"):
            profile = 1
        elif self.url.startswith("wss://") and profile < 2:
            profile = 2
        cfg = dataclasses.replace(
            cabinet_ocpp, url=self.url, station_id=self.station_id or cabinet_ocpp.station_id,
            security_profile=profile, csms_root_file=self.root_file or cabinet_ocpp.csms_root_file,
            password=self.password if self.password else "" if self.password_file else cabinet_ocpp.password,
            password_file=self.password_file or ("" if self.password else cabinet_ocpp.password_file))
        if cfg.password:  # OCPP 2.0.1's rule, as for a password file
            if not 16 <= len(cfg.password) <= 40:
                raise ConfigError("--csms-password", f"the password must be 16 to 40 characters "
                                                     f"(got {len(cfg.password)})")
        elif cfg.password_file:
            password_from_file(cfg.password_file, "--csms-password-file" if self.password_file else "ocpp.password_file")
        try:
            cfg.check()
        except ConfigError as exc:  # named by the option a user of charger-hil gives
            raise ConfigError("--csms", exc.reason) from None
        return cfg

    def scenario_for(self, scenario: Scenario) -> Scenario:
        """The scenario as judged with an outside CSMS: no rig CSMS report; the CSMS may stop the first car."""
        if scenario.csms is None:
            return scenario
        if scenario.csms not in AUTHORIZING_ROLES:
            raise ScenarioRefused(f"scenario {scenario.name} needs the rig's own CSMS (it plays a part: it goes "
                                  "away, sends a local list or shows cards at the rig's reader); "
                                  "run it without --csms")
        return dataclasses.replace(scenario, csms=None, expect_stop=("remote", "ev_stop"),
                                   others_stop=("remote", "ev_stop"), expect_car=("evse_stop", "target_soc"))

    def controller_overrides(self, scenario: Scenario, cabinet_ocpp: OcppConfig) -> list[str]:
        """--set overrides for the controller; the password only as a file path."""
        cfg = self.checked(cabinet_ocpp)
        overrides = [f"ocpp.url={_toml(cfg.url)}", f"ocpp.security_profile={cfg.security_profile}",
                     f"ocpp.password={_toml('')}", f"ocpp.password_file={_toml(self._password_path(cfg))}"]
        if cfg.station_id:
            overrides.append(f"ocpp.station_id={_toml(cfg.station_id)}")
        if cfg.csms_root_file:
            overrides.append(f"ocpp.csms_root_file={_toml(str(Path(cfg.csms_root_file).resolve()))}")
        if scenario.csms in AUTHORIZING_ROLES:
            overrides.append("charging.auto_authorize=false")  # only the CSMS authorizes
        return overrides

    def _password_path(self, cfg: OcppConfig) -> str:
        if cfg.password_file:
            return str(Path(cfg.password_file).resolve())
        if not cfg.password:
            return ""
        if self._written is None:
            fd, name = tempfile.mkstemp(prefix="charger-hil-csms-", suffix=".password")  # mode 0600
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(cfg.password + "\n")
            self._written = Path(name)
        return str(self._written)

    def cleanup(self) -> None:
        if self._written is not None:
            self._written.unlink(missing_ok=True)
            self._written = None

    def report(self) -> dict:
        return {"csms": "outside", "url": self.url, "station_id": self.station_id or None,
                "auth_wait_s": self.auth_wait_s}


def password_from_file(path: str, option: str) -> str:
    """The first line of a password file, 16 to 40 characters (OCPP 2.0.1's basic-auth password)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(option, f"cannot read {path}: {exc.strerror}") from None
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not 16 <= len(password) <= 40:
        raise ConfigError(option, f"the password must be 16 to 40 characters (got {len(password)})")
    return password


def _toml(text: str) -> str:
    """A TOML basic string (the --set value syntax)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


STATION_ID_MAX = 48  # identity: CiString48, and the basic-auth user name (no ':')
OUTSIDE_ONLY = (("station_id", "--station-id"), ("csms_password", "--csms-password"),
                ("csms_password_file", "--csms-password-file"), ("csms_root_file", "--csms-root-file"))


def from_args(args) -> OutsideCsms | None:
    """The --csms options of `charger-hil run`, checked; None without --csms. ConfigError names the option."""
    url = getattr(args, "csms", None)
    if not url:
        for attribute, option in OUTSIDE_ONLY:
            if getattr(args, attribute, None):
                raise ConfigError(option, "only with --csms URL")
        return None
    if not url.startswith(("ws://", "wss://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigError("--csms", f"expected a ws:// or wss:// URL without the station id (got {url!r})")
    station = args.station_id or ""
    if station and (len(station) > STATION_ID_MAX or any(c in station for c in ":/?# \t")
                    or not station.isprintable()):
        raise ConfigError("--station-id", f"at most {STATION_ID_MAX} printable characters without : / ? # "
                                          "or spaces")
    if args.csms_password and args.csms_password_file:
        raise ConfigError("--csms-password", "give either --csms-password or --csms-password-file")
    if getattr(args, "external_evcc", None):
        raise ConfigError("--csms", "not with --external-evcc")
    return OutsideCsms(url, station, args.csms_password or "", args.csms_password_file or "",
                       args.csms_root_file or "", args.auth_wait)
