"""The local authorization list (OCPP 2.0.1 D01-D02): SendLocalList Full / Differential, GetLocalListVersion.

The CSMS owns the list; the station keeps it (on disk with a store) and looks tokens up in it. A
differential update must carry a version above the present one (else VersionMismatch, nothing changes); a
full update replaces the list whatever its version. An entry without idTokenInfo removes that token.
"""
from __future__ import annotations

from controller.store.ocpp_auth import AuthStore

MAX_ENTRIES = 10_000  # LocalAuthListCtrlr.Entries: more would not fit the flash budget of a cabinet


def token_key(id_token: dict) -> str:
    """A token's identity: its type and value (camelCase idToken)."""
    return f"{id_token.get('type', '')}:{id_token.get('idToken', '')}"


class LocalAuthList:
    def __init__(self, store: AuthStore):
        self._store = store
        self.version, self._entries = store.local_list()

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, id_token: dict) -> dict | None:
        """The idTokenInfo the list holds for this token, or None."""
        return self._entries.get(token_key(id_token))

    def update(self, version: int, update_type: str, entries: list[dict]) -> str:
        """Apply a SendLocalList (camelCase entries: {"idToken": {...}, "idTokenInfo": {...}}); its status."""
        if version <= 0:
            return "Failed"  # version 0 means "no list" and may not be sent (D01.FR.18)
        if update_type == "Differential" and version <= self.version:
            return "VersionMismatch"
        changes: dict[str, dict | None] = {}
        for entry in entries:
            changes[token_key(entry["idToken"])] = entry.get("idTokenInfo")
        full = update_type == "Full"
        after = {} if full else dict(self._entries)
        for key, info in changes.items():
            if info is None:
                after.pop(key, None)
            else:
                after[key] = info
        if len(after) > MAX_ENTRIES:
            return "Failed"
        self._store.save_local_list(version, changes, full=full)  # on disk before it is in force
        self.version, self._entries = version, after
        return "Accepted"
