"""The device model's authorization variables (AuthCtrlr, AuthCacheCtrlr, LocalAuthListCtrlr) and their
values in force, read at each use so a SetVariables from the CSMS counts at once."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.ocpp.device_model import DeviceModel, Variable

AUTH, CACHE, LOCAL, TX = "AuthCtrlr", "AuthCacheCtrlr", "LocalAuthListCtrlr", "TxCtrlr"
ITEMS_PER_MESSAGE = 250  # SendLocalList entries per message the station takes
BYTES_PER_MESSAGE = 65_536


def auth_variables() -> list[tuple[Variable, str]]:
    """The variables with their defaults, for the device model's catalogue."""
    from controller.ocpp.device_model import RO, RW, Variable  # the catalogue imports this module
    return [
        (Variable(AUTH, "Enabled", "boolean", RW), "true"),
        # a RequestStartTransaction's token is checked by an Authorize first (false: the CSMS's word is enough)
        (Variable(AUTH, "AuthorizeRemoteStart", "boolean", RW), "false"),
        (Variable(AUTH, "LocalAuthorizeOffline", "boolean", RW), "true"),
        (Variable(AUTH, "LocalPreAuthorize", "boolean", RW), "false"),
        (Variable(AUTH, "OfflineTxForUnknownIdEnabled", "boolean", RW), "false"),
        (Variable(CACHE, "Available", "boolean", RO), "true"),
        (Variable(CACHE, "Enabled", "boolean", RW), "true"),
        (Variable(CACHE, "LifeTime", "integer", RW, unit="s", minimum=1), "86400"),
        (Variable(LOCAL, "Available", "boolean", RO), "true"),
        (Variable(LOCAL, "Enabled", "boolean", RW), "true"),
        (Variable(LOCAL, "Entries", "integer", RO), "0"),  # kept up to date by note_entries
        (Variable(LOCAL, "ItemsPerMessage", "integer", RO), str(ITEMS_PER_MESSAGE)),
        (Variable(LOCAL, "BytesPerMessage", "integer", RO), str(BYTES_PER_MESSAGE)),
        # a TransactionEvent answer that refuses the transaction's token stops it (E05)
        (Variable(TX, "StopTxOnInvalidId", "boolean", RW), "true"),
    ]


class AuthSettings:
    def __init__(self, device_model: DeviceModel):
        self._model = device_model

    def _flag(self, component: str, name: str) -> bool:
        status, value = self._model.get({"name": component}, {"name": name}, None)
        return status == "Accepted" and value == "true"

    @property
    def enabled(self) -> bool:
        return self._flag(AUTH, "Enabled")

    @property
    def authorize_remote_start(self) -> bool:
        return self._flag(AUTH, "AuthorizeRemoteStart")

    @property
    def local_authorize_offline(self) -> bool:
        return self._flag(AUTH, "LocalAuthorizeOffline")

    @property
    def local_pre_authorize(self) -> bool:
        return self._flag(AUTH, "LocalPreAuthorize")

    @property
    def offline_tx_for_unknown_id(self) -> bool:
        return self._flag(AUTH, "OfflineTxForUnknownIdEnabled")

    @property
    def cache_enabled(self) -> bool:
        return self._flag(CACHE, "Enabled")

    @property
    def cache_lifetime_s(self) -> float:
        return self._model.number(CACHE, "LifeTime")

    def note_entries(self, count: int) -> None:
        self._model.note(LOCAL, "Entries", str(count))

    @property
    def stop_tx_on_invalid_id(self) -> bool:
        return self._flag(TX, "StopTxOnInvalidId")

    @property
    def local_list_enabled(self) -> bool:
        return self._flag(LOCAL, "Enabled")
