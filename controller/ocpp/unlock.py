"""UnlockConnector (OCPP 2.0.1 F05): the help-desk's way to free a cable that stays locked.

The OCPP side only refuses what OCPP decides (an unknown connector, an authorized transaction that must be
stopped first); whether the lock may open is the connector's decision (Connector.unlock_on_request): never with
the cable at or above the safe voltage (60 V) or the contactors closed. Its reason goes back in statusInfo.
"""
from __future__ import annotations

from typing import Any


def unlock_connector(connectors: dict[int, Any], transactions: dict[int, Any], evse_id: int,
           connector_id: int) -> tuple[str, dict | None]:
    """(UnlockStatusEnumType, statusInfo or None)."""
    connector = connectors.get(evse_id)
    if connector is None or connector_id != 1:
        return "UnknownConnector", None
    tx = transactions.get(evse_id)
    if tx is not None and (tx.id_token is not None or connector.is_authorized()):
        return "OngoingAuthorizedTransaction", {"reason_code": "TxInProgress",
                                                "additional_info": "stop the transaction first"}
    refused = connector.unlock_on_request()
    if refused is not None:
        return "UnlockFailed", {"reason_code": "NotSafe", "additional_info": refused[:512]}
    return "Unlocked", None
