"""The authorization cache (OCPP 2.0.1 C10-C11): what the CSMS last said about each token it was asked about.

Filled from the idTokenInfo of Authorize and TransactionEvent answers; kept (on disk with a store) for
AuthCacheCtrlr.LifeTime seconds after the token's last use, and never past the CSMS's cacheExpiryDateTime,
after which the token counts as Expired. ClearCache empties it. The least recently used entry goes when
the cache is full.
"""
from __future__ import annotations

from datetime import datetime

from controller.ocpp.local_list import token_key
from controller.store.ocpp_auth import AuthStore

MAX_ENTRIES = 1_000


def expiry_time(info: dict) -> float | None:
    """cacheExpiryDateTime of an idTokenInfo as a POSIX time, or None (absent or unreadable)."""
    text = info.get("cacheExpiryDateTime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class AuthCache:
    def __init__(self, store: AuthStore):
        self._store = store
        # token -> (idTokenInfo, last used); the store's expires_t is the CSMS's expiry, for people reading it
        self._entries = {key: (info, used_t) for key, (info, _, used_t) in store.cache().items()}

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, id_token: dict, now: float, lifetime_s: float) -> dict | None:
        """The cached idTokenInfo (status Expired once the CSMS's expiry passed); None if unknown or past its
        lifetime (then forgotten)."""
        key = token_key(id_token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        info, used_t = entry
        if now > used_t + lifetime_s:
            self._forget(key)
            return None
        expiry = expiry_time(info)
        if expiry is not None and now > expiry and info.get("status") == "Accepted":
            return {**info, "status": "Expired"}
        self._entries[key] = (info, now)
        self._store.cache_put(key, info, expiry or 0.0, now)
        return info

    def remember(self, id_token: dict, info: dict, now: float) -> None:
        key = token_key(id_token)
        if key not in self._entries and len(self._entries) >= MAX_ENTRIES:
            self._forget(min(self._entries, key=lambda k: self._entries[k][1]))
        self._store.cache_put(key, info, expiry_time(info) or 0.0, now)  # on disk before it is in force
        self._entries[key] = (info, now)

    def clear(self) -> None:
        self._store.cache_clear()
        self._entries.clear()

    def _forget(self, key: str) -> None:
        self._entries.pop(key, None)
        self._store.cache_remove(key)
