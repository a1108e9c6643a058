"""Is this idToken allowed to charge? (OCPP 2.0.1 block C: C01 Authorize, C10-C15 cache, list and offline).

Online the CSMS decides (Authorize); with LocalPreAuthorize a token the local list or the cache accepts
goes ahead at once. Without an answer (no link, a time-out, a CALLERROR) the offline rules apply:
LocalAuthorizeOffline lets the local list and the cache decide; a token they do not know is accepted only
with OfflineTxForUnknownIdEnabled; a token they know as not Accepted is always refused. Every idTokenInfo
the CSMS gives (Authorize and TransactionEvent answers) refreshes the cache, unless the token is on the
local list, which the CSMS keeps itself (C10.FR.?? no double bookkeeping).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ocpp.charge_point import snake_to_camel_case
from ocpp.v201 import call

from controller.ocpp.auth_cache import AuthCache
from controller.ocpp.auth_settings import AuthSettings
from controller.ocpp.local_list import LocalAuthList
from controller.store.ocpp_auth import AuthStore

if TYPE_CHECKING:
    from controller.ocpp.contract_certificates import ContractRequest

log = logging.getLogger(__name__)

TOKEN_TYPES = ("Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization")


@dataclass(frozen=True)
class Verdict:
    info: dict  # idTokenInfo (camelCase), at least {"status": ...}
    source: str  # who decided: csms, local list, cache, offline unknown, disabled, ...
    certificate_status: str | None = None  # the CSMS's word on a contract chain (C07), when it gave one

    @property
    def accepted(self) -> bool:
        return self.info.get("status") == "Accepted" and self.certificate_status in (None, "Accepted")


class Authorization:
    def __init__(self, settings: AuthSettings, store: AuthStore, *,
                 send: Callable[[Any], Awaitable[Any]], online: Callable[[], bool],
                 clock: Callable[[], float] = time.time):
        """`send(payload)`: one CALL now, its answer, or None without one; `online()`: a link is accepted."""
        self.settings = settings
        self.store = store
        self.local_list = LocalAuthList(store)
        self.cache = AuthCache(store)
        settings.note_entries(len(self.local_list))
        self._send = send
        self._online = online
        self._clock = clock

    # ---- deciding -------------------------------------------------------------------------------------
    def _known(self, id_token: dict) -> tuple[dict | None, str]:
        if self.settings.local_list_enabled:
            info = self.local_list.lookup(id_token)
            if info is not None:
                return info, "local list"
        if self.settings.cache_enabled:
            info = self.cache.lookup(id_token, self._clock(), self.settings.cache_lifetime_s)
            if info is not None:
                return info, "cache"
        return None, ""

    async def check(self, id_token: dict, contract: ContractRequest | None = None) -> Verdict:
        """`contract`: a Plug & Charge contract's chain for the CSMS to check too (C07,
        controller/ocpp/contract_certificates.py): the CSMS is always asked, and without its answer the
        contract's own offline rule decides, not the cache or the list."""
        if not self.settings.enabled or id_token.get("type") == "NoAuthorization":
            return Verdict({"status": "Accepted"}, "authorization off")
        known, where = self._known(id_token)
        if self._online():
            if self.settings.local_pre_authorize and known is not None and known.get("status") == "Accepted" \
                    and contract is None:
                return Verdict(known, where)  # C12: no wait; the CSMS hears of it in the TransactionEvent
            request = call.Authorize(id_token=id_token) if contract is None else call.Authorize(
                id_token=id_token, certificate=contract.certificate,
                iso15118_certificate_hash_data=contract.hash_data or None)
            answer = await self._send(request)
            if answer is not None and getattr(answer, "id_token_info", None):
                info = snake_to_camel_case(answer.id_token_info)
                status = getattr(answer, "certificate_status", None)
                if contract is not None:
                    status = contract.certificate_status(status)
                if status in (None, "Accepted"):  # a refused chain must not leave an Accepted eMAID in the cache
                    self.remember(id_token, info)
                return Verdict(info, "csms", status)
            log.warning("OCPP: no answer to Authorize of %s: offline rules", id_token.get("idToken"))
        if contract is not None:
            return contract.offline_verdict()
        if known is not None:
            if known.get("status") != "Accepted" or self.settings.local_authorize_offline:
                return Verdict(known, where)  # a token known as refused is refused in any case
        if self.settings.offline_tx_for_unknown_id:
            return Verdict({"status": "Accepted"}, "offline, unknown tokens allowed")
        return Verdict({"status": "Unknown" if known is None else "Invalid"}, "offline")

    def remember(self, id_token: dict, info: dict) -> None:
        """An idTokenInfo from the CSMS goes into the cache (not for tokens of the local list)."""
        if not self.settings.cache_enabled or self.local_list.lookup(id_token) is not None:
            return
        try:
            self.cache.remember(id_token, info, self._clock())
        except Exception:  # a full disk must not keep the car waiting: the answer itself still counts
            log.exception("OCPP: authorization cache not updated")

    def transaction_answered(self, payload: dict, answer: Any) -> str | None:
        """The CSMS's idTokenInfo in a TransactionEvent answer is about the event's idToken: cached; its
        status returned (None without one)."""
        info = getattr(answer, "id_token_info", None)
        if not info or not payload.get("idToken"):
            return None
        info = snake_to_camel_case(info)
        self.remember(payload["idToken"], info)
        return info.get("status")

    # ---- the CSMS's requests ------------------------------------------------------------------------
    def send_local_list(self, version: int, update_type: str, entries: list[dict] | None) -> str:
        """SendLocalList (entries in ocpp's snake_case)."""
        if not self.settings.local_list_enabled:
            return "Failed"
        try:
            status = self.local_list.update(version, update_type, snake_to_camel_case(entries or []))
        except Exception:
            log.exception("OCPP: SendLocalList not stored")
            return "Failed"
        self.settings.note_entries(len(self.local_list))
        return status

    def local_list_version(self) -> int:
        return self.local_list.version if self.settings.local_list_enabled else 0

    def clear_cache(self) -> str:
        if not self.settings.cache_enabled:
            return "Rejected"  # C11.FR.04
        self.cache.clear()
        return "Accepted"
