"""Where idTokens come in (the RFID reader, the technician console, the car's EVCCID for Autocharge) and
which connector each one is for.

A token names its connector, or (a cabinet-wide reader) goes to the lowest-numbered connector whose car
waits for an authorization, else to a free connector, where it waits up to EVConnectionTimeOut for the
car. It is checked by Authorization; only an accepted token authorizes the connector (and the CSMS hears
of it: TransactionEvent Authorized), so a refused one never lets the session reach the cable check, let
alone close a contactor. The token that authorized a running transaction, shown again, stops it (E07).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from controller.ocpp.authorization import Authorization, Verdict
from controller.ocpp.local_list import token_key

log = logging.getLogger(__name__)

WAITING_FOR_AUTH = ("plugged", "negotiating", "authorizing")
EV_CONNECTION_TIMEOUT_S = 60.0  # a token shown before the plug-in waits this long for the car


@dataclass(frozen=True)
class Presented:
    """What became of a token: `outcome` authorized, waiting (for the car), stopped (its charge), refused or
    not used."""
    outcome: str
    connector: int | None
    text: str
    verdict: Verdict | None = None


def mac_token(evcc_id: str) -> dict | None:
    """Autocharge: the EVCCID (hex, as the SECC read it) as a MacAddress idToken, AA:BB:CC:DD:EE:FF."""
    digits = evcc_id.strip().upper()
    if not digits or len(digits) % 2 or any(c not in "0123456789ABCDEF" for c in digits):
        return None
    return {"idToken": ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))[:36], "type": "MacAddress"}


class Identification:
    def __init__(self, authorization: Authorization, connectors: dict[int, Any], transactions: dict[int, Any],
                 enqueue: Callable[[dict, Any], None], *, autocharge: bool = False,
                 may_use: Callable[[int, dict], bool] = lambda evse, token: True,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time):
        """`transactions`: the service's running ones by connector (read, never changed here); `enqueue`:
        queue a TransactionEvent payload for the CSMS."""
        self.authorization = authorization
        self.connectors = connectors
        self.transactions = transactions
        self._enqueue = enqueue
        self._may_use = may_use  # False: an OCPP reservation keeps the connector for another idToken
        self.autocharge = autocharge
        self._clock = clock
        self._wall_clock = wall_clock
        self._waiting: dict[int, tuple[dict, float]] = {}  # connector -> (accepted idToken, until)
        self._autocharged: set[str] = set()  # sessions whose EVCCID was already shown
        self._tasks: set[asyncio.Task] = set()
        self._checking: set[int] = set()  # connectors whose token is being checked: not picked for another

    def _pick(self, connector_id: int | None) -> int | None:
        now = self._clock()
        self._waiting = {cid: held for cid, held in self._waiting.items() if held[1] >= now}  # the car never came
        if connector_id is not None:
            return connector_id if connector_id in self.connectors else None
        waiting = [c for c in self.connectors.values() if c.state in WAITING_FOR_AUTH and not c.is_authorized()
                   and c.cfg.id not in self._checking]
        if waiting:  # several cars waiting at one cabinet-wide reader: the lowest connector id first
            return min(c.cfg.id for c in waiting)
        free = [cid for cid, c in self.connectors.items()
                if c.state == "available" and cid not in self._waiting and cid not in self._checking]
        return free[0] if free else None

    async def present(self, id_token: dict, connector_id: int | None = None, source: str = "",
                      contract: Any = None) -> Presented:
        """`contract`: a Plug & Charge contract's chain for the CSMS to check with the eMAID (a
        controller/ocpp/contract_certificates.py ContractRequest)."""
        name = id_token.get("idToken", "")
        holder = self._holder(id_token)
        if holder is not None and connector_id in (None, holder):  # E07: the same token again ends the charge
            return self._stop_by_token(holder, name)
        cid = self._pick(connector_id)
        if cid is None:
            return self._done(Presented("not used", connector_id, f"token {name} ({source}): no connector for it"))
        connector = self.connectors[cid]
        if connector.state not in (*WAITING_FOR_AUTH, "available"):
            return self._done(Presented("not used", cid, f"connector {cid} is {connector.state}: token {name} "
                                        "not used"))
        if connector.state != "available" and connector.is_authorized():
            return self._done(Presented("not used", cid, f"connector {cid} is already authorized"))
        if not self._may_use(cid, id_token):
            return self._done(Presented("refused", cid, f"connector {cid}: reserved for another idToken; token "
                                        f"{name} not used"))
        self._checking.add(cid)
        try:
            verdict = await (self.authorization.check(id_token, contract) if contract is not None
                             else self.authorization.check(id_token))
        finally:
            self._checking.discard(cid)
        if not verdict.accepted:
            chain = f", certificate {verdict.certificate_status}" if verdict.certificate_status else ""
            return self._done(Presented("refused", cid, f"connector {cid}: token {name} refused "
                                        f"({verdict.info.get('status')}{chain}, by the {verdict.source})", verdict))
        if connector.state in WAITING_FOR_AUTH and not connector.is_authorized():  # the car may have left meanwhile
            self._grant(cid, id_token)
            return self._done(Presented("authorized", cid, f"connector {cid}: token {name} accepted by the "
                                        f"{verdict.source}; authorized ({connector.state})", verdict))
        if connector.state == "available":
            self._waiting[cid] = (id_token, self._clock() + EV_CONNECTION_TIMEOUT_S)
            return self._done(Presented("waiting", cid, f"connector {cid}: token {name} accepted by the "
                                        f"{verdict.source}; plug the car in within {EV_CONNECTION_TIMEOUT_S:.0f} s",
                                        verdict))
        return self._done(Presented("not used", cid, f"connector {cid} is {connector.state}: token {name} accepted "
                                    "but not used", verdict))

    def present_soon(self, id_token: dict, connector_id: int | None, source: str) -> None:
        """present() in a task of its own, for callers that cannot wait (a reader's byte callback)."""
        self._spawn(self.present(id_token, connector_id, source))

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _grant(self, connector_id: int, id_token: dict) -> None:
        """An accepted token: the car may go ahead, and the CSMS hears it (triggerReason Authorized)."""
        self.connectors[connector_id].authorize()
        tx = self.transactions.get(connector_id)
        if tx is not None:
            tx.id_token = id_token
            self._enqueue(tx.event("Updated", "Authorized", self._wall_clock()), tx)

    def deauthorize(self, transaction_id: str) -> None:
        """The CSMS refused the token of a running transaction (TxCtrlr.StopTxOnInvalidId): the car is asked
        to stop, as by a remote stop."""
        if not self.authorization.settings.stop_tx_on_invalid_id:
            return
        for cid, tx in list(self.transactions.items()):
            if tx.transaction_id == transaction_id and self.connectors[cid].request_stop("deauthorized"):
                self._enqueue(tx.event("Updated", "Deauthorized", self._wall_clock()), tx)

    def remote_start(self, connector: Any, tx: Any, id_token: dict, go: Callable[[], None]) -> None:
        """A RequestStartTransaction's token: `go()` at once, or with AuthCtrlr.AuthorizeRemoteStart once an
        Authorize (or the offline rules) accepted it, if the car still waits in the same transaction."""
        if not self.authorization.settings.authorize_remote_start:
            go()
            return

        async def check() -> None:
            verdict = await self.authorization.check(id_token)
            log.info("OCPP: remote start token %s: %s (by the %s)", id_token.get("idToken"),
                     verdict.info.get("status"), verdict.source)
            if verdict.accepted and self.transactions.get(connector.cfg.id) is tx and not connector.is_authorized():
                go()
        self._spawn(check())

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def _holder(self, id_token: dict) -> int | None:
        """The connector whose running transaction this token authorized, if any."""
        for cid, tx in self.transactions.items():
            if tx.id_token is not None and token_key(tx.id_token) == token_key(id_token):
                return cid
        return None

    def _stop_by_token(self, cid: int, name: str) -> Presented:
        tx = self.transactions[cid]
        if not self.connectors[cid].request_stop("token_stop"):
            return self._done(Presented("not used", cid, f"connector {cid}: token {name} started this transaction; "
                                        f"nothing to stop ({self.connectors[cid].state})"))
        self._enqueue(tx.event("Updated", "StopAuthorized", self._wall_clock()), tx)
        return self._done(Presented("stopped", cid, f"connector {cid}: token {name} started this transaction; "
                                    "stop requested"))

    @staticmethod
    def _done(presented: Presented) -> Presented:
        log.info("OCPP: %s", presented.text)
        return presented

    def transaction_started(self, connector_id: int) -> None:
        """A car plugged in: a token accepted for this connector before it is used now."""
        waiting = self._waiting.pop(connector_id, None)
        if waiting is not None and waiting[1] >= self._clock():
            self._grant(connector_id, waiting[0])

    def ev_identified(self, connector: Any) -> dict | None:
        """Autocharge: the token of a car that told its EVCCID and waits for an authorization, once per
        session; None when there is nothing to present."""
        session = getattr(connector, "session", None)
        if not self.autocharge or session is None or not session.evcc_id or connector.is_authorized():
            return None
        if connector.state not in WAITING_FOR_AUTH or session.session_id in self._autocharged:
            return None
        self._autocharged.add(session.session_id)
        return mac_token(session.evcc_id)
