"""Network connection profiles (OCPP 2.0.1 B09/B10) and the no-downgrade rule of the security profile (A05).

Slot 0 is the configuration's own CSMS ([ocpp] url and security_profile) and cannot be replaced; the CSMS
stores others with SetNetworkProfile (slots 1..MAX_SLOT) and chooses the order with
OCPPCommCtrlr.NetworkConfigurationPriority ("1,0": slot 1 first, slot 0 when 1 cannot connect). A new
priority is in force at once: the link reconnects after the answer (or at the next start, after a Reset).
A slot that fails NetworkProfileConnectionAttempts connects in a row hands over to the next in the list,
so a wrong new profile falls back to the previous one and the operator can switch CSMS without anybody on
site.

No downgrade: the security profile never goes below the highest one a link has used (the floor, kept in
the store). SetVariables SecurityProfile below it is Rejected (NoSecurityDowngrade); a higher one is
Rejected too: it comes with a network profile, and the floor rises only once a link with it is up.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
from typing import Callable

from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.device_model import DeviceModel
from controller.store.ocpp_network import NetworkStore

log = logging.getLogger(__name__)

MAX_SLOT = 4
PRIORITY = ("OCPPCommCtrlr", "NetworkConfigurationPriority")
SECURITY_PROFILE = ("SecurityCtrlr", "SecurityProfile")
SetResults = Callable[[list[dict]], list[dict]]


@dataclasses.dataclass(frozen=True)
class NetworkProfile:
    url: str
    security_profile: int
    message_timeout_s: float


def _reason(code: str, detail: str = "") -> dict:
    return {"reason_code": code, **({"additional_info": detail[:512]} if detail else {})}


class NetworkProfiles:
    def __init__(self, cfg: OcppConfig, store: NetworkStore | None = None, device_model: DeviceModel | None = None,
                 *, missing_for: Callable[[int], str | None] = lambda p: None,
                 notify: Callable[[str, str], None] | None = None, wake: Callable[[], None] = lambda: None):
        """With a device model: NetworkProfileConnectionAttempts is read there, and SecurityProfile and
        NetworkConfigurationPriority are reported from here."""
        self._cfg = cfg
        self._store = store if store is not None else NetworkStore()
        self._device_model = device_model
        self._missing_for = missing_for  # what the station lacks for a security profile (a root, a certificate)
        self._notify = notify or (lambda kind, info: None)
        self._wake = wake
        stored = self._store.load()
        self.slots = {0: NetworkProfile(cfg.url, cfg.security_profile, cfg.response_timeout_s)}  # 0: [ocpp] itself
        for key, value in stored.items():
            if key.startswith("slot/"):
                self.slots[int(key[5:])] = NetworkProfile(**json.loads(value))
        self.priority = [int(s) for s in stored.get("priority", "0").split(",") if int(s) in self.slots] or [0]
        self.floor = max(cfg.security_profile, int(stored.get("floor", "0")))
        self._index = 0  # where in the priority list the link is
        self._failures = 0  # failed connects of that slot in a row
        self._switch = "none"  # none, pending (answer not yet sent), due (reconnect now)
        self.active_slot: int | None = None  # the slot of the link that is up
        if device_model is not None:
            device_model.live.update({SECURITY_PROFILE: lambda: str(self.current_profile),
                                      PRIORITY: self.priority_text})

    # ---- the link ---------------------------------------------------------------------------------------
    def _usable(self) -> list[int]:
        # none at the floor (someone on site lowered [ocpp] itself): the first slot still, never no link at all
        return [s for s in self.priority if self.slots[s].security_profile >= self.floor] or [self.priority[0]]

    @property
    def slot(self) -> int:
        usable = self._usable()
        return usable[self._index % len(usable)]

    def link_config(self) -> OcppConfig:
        """The configuration of the next connect: the slot now in turn."""
        if self._switch == "due":
            self._switch, self._index, self._failures = "none", 0, 0
        profile = self.slots[self.slot]
        return dataclasses.replace(self._cfg, url=profile.url, security_profile=profile.security_profile,
                                   response_timeout_s=profile.message_timeout_s)

    def failed(self) -> None:
        self._failures += 1
        self.active_slot = None  # no link is up
        model = self._device_model
        attempts = model.number("OCPPCommCtrlr", "NetworkProfileConnectionAttempts") if model else 3
        if self._failures >= max(1, int(attempts)) and len(self._usable()) > 1:
            log.warning("OCPP: network profile slot %d failed %d times; trying the next", self.slot, self._failures)
            self._index, self._failures = (self._index + 1) % len(self._usable()), 0

    def connected(self) -> None:
        self._failures = 0
        self.active_slot = self.slot
        profile = self.slots[self.slot].security_profile
        if profile > self.floor:  # a higher profile that connected: from now on the least
            self.floor = profile
            try:
                self._store.save("floor", str(profile))
            except sqlite3.Error as exc:  # in force until a restart all the same
                log.warning("OCPP: the security profile floor could not be stored: %s", exc)
            self._notify("ReconfigurationOfSecurityParameters", f"security profile {profile} in use")

    @property
    def in_use(self) -> NetworkProfile:
        """The profile of the link that is up, else the one in turn."""
        return self.slots[self.active_slot if self.active_slot is not None else self.slot]

    @property
    def current_profile(self) -> int:
        return self.in_use.security_profile

    def needs_tls(self) -> bool:
        """A link in use or in the priority list checks the CSMS against the installed roots."""
        return self.current_profile >= 2 or any(self.slots[s].security_profile >= 2 for s in self.priority)

    def switch_due(self) -> bool:
        return self._switch == "due"

    def after_answer(self) -> None:
        """After the SetVariables answer went out: a new priority takes the link over now."""
        if self._switch == "pending":
            self._switch = "due"
            self._wake()

    # ---- SetNetworkProfile ------------------------------------------------------------------------------
    def set_profile(self, slot: int, data: dict) -> tuple[str, dict | None]:
        """data: NetworkConnectionProfile in snake_case."""
        if not 1 <= slot <= MAX_SLOT:
            return "Rejected", _reason("InvalidConfSlot", f"slots 1 to {MAX_SLOT}; 0 is the configuration's")
        if slot == self.active_slot:
            return "Rejected", _reason("InvalidConfSlot", "the slot of the link in use")
        url, profile = str(data.get("ocpp_csms_url", "")), int(data.get("security_profile", 0))
        problem = _profile_problem(data, url, profile)
        if profile < self.floor:
            return "Rejected", _reason("NoSecurityDowngrade", f"security profile {profile} is below {self.floor}")
        if problem is None:
            problem = self._missing_for(profile)
        if problem is not None:
            return "Rejected", _reason("InvalidNetworkConf", problem)
        stored = NetworkProfile(url, profile, float(data.get("message_timeout", self._cfg.response_timeout_s)))
        self._store.save(f"slot/{slot}", json.dumps(dataclasses.asdict(stored)))
        self.slots[slot] = stored
        return "Accepted", None

    # ---- SetVariables / GetVariables of the variables this module owns -------------------------------------
    def set_variables(self, requests: list[dict], others: SetResults) -> list[dict]:
        """Answers SecurityProfile and NetworkConfigurationPriority here, the rest with `others`, in order."""
        results: list[dict | None] = [None] * len(requests)
        rest = []
        for index, item in enumerate(requests):
            key = (item["component"].get("name"), item["variable"].get("name"))
            own = key in (PRIORITY, SECURITY_PROFILE) and not item["component"].get("evse") \
                and item.get("attribute_type") in (None, "Actual")
            if not own:
                rest.append(index)
                continue
            status, info = (self._set_priority if key == PRIORITY else self._set_security_profile)(
                str(item["attribute_value"]))
            results[index] = {"attribute_status": status, "attribute_type": item.get("attribute_type") or "Actual",
                              "component": item["component"], "variable": item["variable"],
                              **({"attribute_status_info": info} if info else {})}
        for index, result in zip(rest, others([requests[i] for i in rest]) if rest else []):
            results[index] = result
        return [r for r in results if r is not None]

    def _set_security_profile(self, value: str) -> tuple[str, dict | None]:
        try:
            wanted = int(value)
        except ValueError:
            return "Rejected", _reason("InvalidValue", "an integer 1 to 3")
        if wanted < self.current_profile:
            return "Rejected", _reason("NoSecurityDowngrade", f"profile {self.current_profile} is in use")
        if wanted > self.current_profile:
            return "Rejected", _reason("InvalidValue", "a higher profile comes with SetNetworkProfile and "
                                       "NetworkConfigurationPriority, in force once its link is up")
        return "Accepted", None

    def _set_priority(self, value: str) -> tuple[str, dict | None]:
        try:
            slots = [int(part) for part in value.split(",")]
        except ValueError:
            return "Rejected", _reason("InvalidNetworkConf", "a comma-separated list of slots")
        unknown = [s for s in slots if s not in self.slots]
        if unknown or len(set(slots)) != len(slots):
            return "Rejected", _reason("InvalidNetworkConf", f"unknown or repeated slots in {value[:100]!r}")
        if all(self.slots[s].security_profile < self.floor for s in slots):
            return "Rejected", _reason("NoSecurityDowngrade", f"no slot with security profile {self.floor} or more")
        self._store.save("priority", ",".join(map(str, slots)))
        self.priority = slots
        self._switch = "pending"
        return "Accepted", None

    def priority_text(self) -> str:
        return ",".join(map(str, self.priority))

    def close(self) -> None:
        self._store.close()


def _profile_problem(data: dict, url: str, profile: int) -> str | None:
    if data.get("ocpp_version") not in ("OCPP20", None) or data.get("ocpp_transport") not in ("JSON", None):
        return "only OCPP 2.0.1 over JSON"
    if profile not in (1, 2, 3):
        return "security profile 1, 2 or 3"
    if profile == 1 and not url.startswith("ws://"):
        return "profile 1 is plain ws://"
    if profile >= 2 and not url.startswith("wss://"):
        return f"profile {profile} needs a wss:// URL"
    return None
