"""The installed charging profiles: Set, Clear (by id or by criteria), the selection GetChargingProfiles
reports, kept in the store (controller/store/ocpp_profiles.py) before they are in force.
"""
from __future__ import annotations

import logging
from typing import Iterable

from controller.ocpp.smart_charging.profiles import TX, ChargingProfile
from controller.ocpp.smart_charging.validation import Settings, rejection
from controller.store.ocpp_profiles import ProfileStore

log = logging.getLogger(__name__)


class InstalledProfiles:
    def __init__(self, store: ProfileStore | None = None):
        self._store = store if store is not None else ProfileStore()
        self.by_id: dict[int, ChargingProfile] = {}
        for evse, data in self._store.load():
            try:
                profile = ChargingProfile.from_json(evse, data)
            except (KeyError, ValueError, TypeError, IndexError):
                log.warning("smart charging: a stored profile could not be read and is dropped: %.200s", data)
                continue
            self.by_id[profile.id] = profile

    @property
    def all(self) -> list[ChargingProfile]:
        return list(self.by_id.values())

    def set(self, evse: int, data: dict, evses: Iterable[int], transactions: dict[int, str],
            settings: Settings) -> str | None:
        """Install (or replace, same id) the profile; None when accepted, else the reasonCode of the rejection."""
        try:
            profile = ChargingProfile.from_json(evse, data)
        except (KeyError, ValueError, TypeError, IndexError):
            return "InvalidValue"  # a date-time that is not one, mostly (the schema checked the rest)
        reason = rejection(profile, evses, transactions, self.by_id.values(), settings)
        if reason is not None:
            return reason
        self._store.save(profile.id, evse, data)  # on disk first: what was accepted outlives a restart
        self.by_id[profile.id] = profile
        return None

    def clear(self, profile_id: int | None, evse: int | None, purpose: str | None, stack_level: int | None) -> bool:
        """ClearChargingProfile: by id, or every profile matching all the criteria given. True when any went."""
        if profile_id is not None:
            gone = [profile_id] if profile_id in self.by_id else []
        else:
            gone = [p.id for p in self.by_id.values()
                    if (evse is None or p.evse == evse) and (purpose is None or p.purpose == purpose)
                    and (stack_level is None or p.stack_level == stack_level)]
        self._remove(gone)
        return bool(gone)

    def select(self, evse: int | None, purpose: str | None, stack_level: int | None, ids: list[int] | None,
               sources: list[str] | None) -> list[ChargingProfile]:
        """GetChargingProfiles' criteria (all given must match). Every profile here came from the CSMS (CSO)."""
        if sources is not None and "CSO" not in sources:
            return []
        return [p for p in sorted(self.by_id.values(), key=lambda p: (p.evse, p.id))
                if (evse is None or p.evse == evse) and (purpose is None or p.purpose == purpose)
                and (stack_level is None or p.stack_level == stack_level) and (not ids or p.id in ids)]

    def end_transactions(self, running: dict[int, str]) -> list[int]:
        """TxProfiles end with their transaction (K01): those whose transaction no longer runs go."""
        gone = [p.id for p in self.by_id.values() if p.purpose == TX and running.get(p.evse) != p.transaction_id]
        self._remove(gone)
        return gone

    def _remove(self, ids: list[int]) -> None:
        if ids:
            self._store.delete(ids)
            for profile_id in ids:
                del self.by_id[profile_id]

    def close(self) -> None:
        self._store.close()
