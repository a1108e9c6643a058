"""The rig's CSMS in a scenario: started before the controller, plays its part, then judged.

`remote-start`: the CSMS authorizes every car by RequestStartTransaction once its transaction started and
stops the first one by RequestStopTransaction after it has charged a while. `offline-session`: the CSMS
goes away while the first car charges and comes back later; every TransactionEvent must then arrive once,
in order, with offline=true for those made while it was away. `observe` (any scenario with OCPP added,
`with_ocpp`): the CSMS only answers and checks; the cars are authorized by the cabinet as without OCPP.
"""
from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hil.csms import role_availability
from hil.csms.role_diagnostics import ROLES as DIAGNOSTICS_ROLES, DiagnosticsRole
from hil.csms.role_reservation import ReservationRole
from hil.csms.role_csms_restart import restart_mid_session
from hil.csms.role_auth import AUTH_ROLES, AuthRole
from hil.csms import role_price
from hil.csms.role_firmware import FIRMWARE_ROLES, FirmwareRole
from hil.csms.role_invalid_id import INVALID_ID_ROLES, InvalidIdRole
from hil.csms.role_smart_charging import ROLES as SMART_ROLES, SmartChargingRole
from hil.csms.role_secc_certificate import FIRST_ROLE as SECC_FIRST_ROLE, ROLE as SECC_ROLE, SeccCertificateRole
from hil.csms.role_ev_certificates import ROLE as PNC_INSTALL_ROLE, UPDATE_ROLE as PNC_UPDATE_ROLE, pnc_install_role
from hil.csms.role_pnc_revoked import ROLES as PNC_STATUS_ROLES, ContractStatusRole
from hil.csms.simulator import CsmsSimulator

if TYPE_CHECKING:
    from hil.scenarios import Scenario

PASSWORD = "rig-csms-password-0123"  # the rig's own CSMS only: made up per rig, never a real credential
STATION = "RIG-STATION"
ID_TOKEN = "RIG-TOKEN-1"
OBSERVE = "observe"  # the role of a CSMS added to a scenario that has none of its own


def with_ocpp(scenario: Scenario, profile: int) -> Scenario:
    """The scenario with the rig's CSMS over security profile `profile`: its own role if it has one, else the
    CSMS only answers and checks every frame (judged like the OCPP scenarios: schemas, transactions whole)."""
    if profile not in (1, 2, 3):
        raise ValueError(f"OCPP security profile must be 1, 2 or 3 (got {profile})")
    return dataclasses.replace(scenario, csms=scenario.csms or OBSERVE, csms_profile=profile)


def _test_ca():
    """hil.csms.test_ca, which needs cryptography: only wss scenarios load it (pip install cryptography)."""
    try:
        from hil.csms import test_ca
    except ImportError as exc:
        from hil.scenarios import ScenarioRefused
        raise ScenarioRefused(f"the rig's wss CSMS needs the cryptography package ({exc})") from None
    return test_ca


class RigCsms:
    def __init__(self, role: str, *, profile: int = 1, stop_after_charging_s: float = 1.0,
                 outage_after_charging_s: float = 0.5, outage_s: float = 2.0):
        self.role = role
        self.profile = profile
        self.folder = Path(tempfile.mkdtemp(prefix="rig-csms-"))
        self.csms = CsmsSimulator(password=PASSWORD if profile < 3 else "",
                                  tls=_test_ca().make_test_ca(self.folder / "ca") if profile >= 2 else None,
                                  jsonl=self.folder / "ocpp-traffic.jsonl", client_certs=profile == 3)
        self.stop_after_charging_s = stop_after_charging_s
        self.outage_after_charging_s = outage_after_charging_s
        self.outage_s = outage_s
        self.outage: tuple[float, float] | None = None
        self.notes: list[str] = []
        self.reservation = ReservationRole(self) if role == "reservation" else None  # hil/csms/role_reservation.py
        self.auth = AuthRole(role, self.csms, STATION) if role in AUTH_ROLES else None  # hil/csms/role_auth.py
        self.price = role_price.PriceRole(self) if role in role_price.ROLES else None  # hil/csms/role_price.py
        self.diagnostics = DiagnosticsRole(self, STATION) if role in DIAGNOSTICS_ROLES else None  # role_diagnostics.py
        self.auth = InvalidIdRole(role, self.csms, STATION) if role in INVALID_ID_ROLES else self.auth  # E05
        self.smart = SmartChargingRole(role, self.csms, STATION) if role in SMART_ROLES else None  # block K
        self.secc = SeccCertificateRole(self.csms, STATION) if role == SECC_ROLE else None  # the SECC leaf renewed
        if role == SECC_FIRST_ROLE:  # the first SECC leaf, asked for by the station at its start
            self.secc = SeccCertificateRole(self.csms, STATION, first=True)
        self.contracts = None  # a provisioning service (Get15118EVCertificate) for the car's contract:
        if role in (PNC_INSTALL_ROLE, PNC_UPDATE_ROLE):  # installed, or renewed
            self.contracts = pnc_install_role(self.csms, "Update" if role == PNC_UPDATE_ROLE else "Install")
        self.contract_status = ContractStatusRole(role, self.csms) if role in PNC_STATUS_ROLES else None  # C07
        self.settle_s = 15.0
        self.firmware = FirmwareRole(role, self, STATION, self.folder) if role in FIRMWARE_ROLES else None  # role_firmware.py

    async def start(self) -> list[str]:
        """Start listening; the controller's config overrides that point it here."""
        url = await self.csms.start()
        overrides = [f'ocpp.url="{url}"', f'ocpp.station_id="{STATION}"', f'ocpp.password="{PASSWORD}"',
                     "ocpp.retry_back_off_wait_minimum_s=0.2", "ocpp.retry_back_off_random_range_s=0.2",
                     "ocpp.retry_back_off_repeat_times=1", "ocpp.meter_interval_s=0.5"]
        if self.csms.tls is not None:
            overrides += [f"ocpp.security_profile={self.profile}", f'ocpp.csms_root_file="{self.csms.tls.root_file}"']
        if self.profile == 3:
            cert, key = _test_ca().issue_station_cert(self.csms.tls, STATION, self.folder / "station")
            overrides += [f'ocpp.client_cert_file="{cert}"', f'ocpp.client_key_file="{key}"']
        if self.role in ("remote-start", "reservation"):
            overrides.append("charging.auto_authorize=false")  # only the CSMS authorizes
        if self.contract_status is not None:  # only the eMAID, with its chain judged at the CSMS, authorizes
            overrides.append("charging.auto_authorize=false")
        overrides += role_availability.overrides(self.role, self.folder)
        if self.auth is not None:
            overrides += self.auth.overrides()
        if self.price is not None:
            overrides += self.price.overrides()
        if self.diagnostics is not None:
            overrides += self.diagnostics.overrides()
        if self.firmware is not None:
            overrides += self.firmware.overrides()
        return overrides

    def _events(self, evse: int | None = None) -> list[dict]:
        events = self.csms.calls("TransactionEvent")
        if evse is None:
            return events
        ids = {e["transactionInfo"]["transactionId"] for e in events
               if e["eventType"] == "Started" and e.get("evse", {}).get("id") == evse}
        return [e for e in events if e["transactionInfo"]["transactionId"] in ids]

    async def play(self, ids: list[int], timeout_s: float) -> None:
        """The CSMS's part while the cars run (a task the runner cancels when the cars are done)."""
        if self.role == "remote-start":
            await asyncio.gather(*(self._remote_start(cid, cid == ids[0], timeout_s) for cid in ids))
        elif self.role == "offline-session":
            await self._outage(ids[0], timeout_s)
        elif self.reservation is not None:
            await self.reservation.play(STATION, ids, timeout_s)
        elif self.role in role_availability.ROLES:
            await role_availability.play(self, STATION, ids, timeout_s)
        elif self.role == "csms-restart":
            await restart_mid_session(self, ids[0], timeout_s)
        elif self.auth is not None:
            await self.auth.play(ids, timeout_s)
        elif self.price is not None:
            await self.price.play(STATION, ids, timeout_s)
        elif self.diagnostics is not None:
            await self.diagnostics.play(ids, timeout_s)
        elif self.firmware is not None:
            await self.firmware.play(ids, timeout_s)
        elif self.smart is not None:
            await self.smart.play(ids, self._events, timeout_s)  # hil/csms/role_smart_charging.py

    async def before_cars(self, ids: list[int], timeout_s: float) -> None:
        """The CSMS's part once every connector is available, before any car plugs in."""
        if self.reservation is not None:
            await self.reservation.before_cars(STATION, ids, timeout_s)
        if self.secc is not None:  # hil/csms/role_secc_certificate.py
            await self.secc.before_cars(timeout_s)
        if self.contract_status is not None:  # hil/csms/role_pnc_revoked.py
            await self.contract_status.before_cars(STATION, timeout_s)

    async def _remote_start(self, cid: int, stop: bool, timeout_s: float) -> None:
        started = await self.csms.wait_for(lambda: [e for e in self._events(cid) if e["eventType"] == "Started"],
                                           timeout_s)
        tx_id = started[0]["transactionInfo"]["transactionId"]
        answer = await self.csms.request_start(STATION, cid, ID_TOKEN, cid)
        self.notes.append(f"RequestStartTransaction evse {cid}: {answer.status}")
        if not stop:
            return
        await self.csms.wait_for(lambda: any(e["transactionInfo"].get("chargingState") == "Charging"
                                             for e in self._events(cid)), timeout_s)
        await asyncio.sleep(self.stop_after_charging_s)
        answer = await self.csms.request_stop(STATION, tx_id)
        self.notes.append(f"RequestStopTransaction {tx_id}: {answer.status}")

    async def _outage(self, cid: int, timeout_s: float) -> None:
        await self.csms.wait_for(lambda: any(e["transactionInfo"].get("chargingState") == "Charging"
                                             for e in self._events(cid)), timeout_s)
        await asyncio.sleep(self.outage_after_charging_s)
        began = time.time()
        await self.csms.stop()
        await asyncio.sleep(self.outage_s)
        await self.csms.start()
        self.outage = (began, time.time())

    async def settle(self, ids: list[int], timeout_s: float | None = None) -> None:
        """Wait until every connector's transaction has ended at the CSMS (the queue drained); at most
        `timeout_s`, by default `settle_s` (a bench that only needs the link loaded sets it short)."""
        def ended() -> bool:
            return all(any(e["eventType"] == "Ended" for e in self._events(cid)) for cid in ids)
        try:
            await self.csms.wait_for(ended, self.settle_s if timeout_s is None else timeout_s)
        except TimeoutError:
            self.notes.append("not every transaction reached the CSMS as Ended")
        if self.role in role_availability.ROLES:
            await role_availability.settle(self, STATION, ids, self.settle_s if timeout_s is None else timeout_s)
        if self.price is not None:  # the session's price in the controller's store
            await self.price.settle(ids, self.settle_s if timeout_s is None else timeout_s)
        if self.diagnostics is not None:
            await self.diagnostics.settle(self.settle_s if timeout_s is None else timeout_s)
        if self.firmware is not None:
            await self.firmware.settle(ids)
        if self.smart is not None:
            self.smart.judge()

    async def stop(self) -> None:
        await self.csms.stop()
        if self.auth is not None:
            self.auth.close()
        if self.diagnostics is not None:
            self.diagnostics.close()
        if self.firmware is not None:
            self.firmware.close()

    def report(self) -> dict:
        return {"role": self.role, "security_profile": self.profile,
                "frames": len(self.csms.traffic), "traffic_jsonl": str(self.csms.jsonl),
                "traffic": list(self.csms.traffic),
                "violations": [v.__dict__ for v in self.csms.violations], "notes": list(self.notes),
                "problems": (list(self.reservation.problems) if self.reservation else [])
                + (list(self.diagnostics.problems) if self.diagnostics else [])
                + (list(self.secc.problems) if self.secc else [])
                + (self.contracts.problems if self.contracts else []),
                "outage": list(self.outage) if self.outage else None,
                "ledger": self.csms.transaction_ledger(),  # repeats judged here; the list below has each once
                **({"auth": self.auth.report()} if self.auth is not None else {}),
                **({"price": self.price.report()} if self.price is not None else {}),
                **({"diagnostics": self.diagnostics.report()} if self.diagnostics is not None else {}),
                **({"firmware": self.firmware.report()} if self.firmware is not None else {}),
                **({"smart_charging": self.smart.report()} if self.smart is not None else {}),
                **({"secc_certificate": self.secc.report()} if self.secc is not None else {}),
                "transaction_events": [{"evse": e.get("evse", {}).get("id"), "tx": e["transactionInfo"]["transactionId"],
                                        "type": e["eventType"], "seq": e["seqNo"], "trigger": e["triggerReason"],
                                        "state": e["transactionInfo"].get("chargingState"),
                                        "offline": bool(e.get("offline"))} for e in first_arrivals(self._events())]}


def judge_ocpp(report: dict | None, expect_offline: bool) -> list[str]:
    """The CSMS's side of the verdict: no schema violation, every transaction complete and in order."""
    if report is None:
        return []
    problems = [f"OCPP schema violation in {v['action']} ({v['kind']}): {v['detail']}" for v in report["violations"]]
    problems += [n for n in report["notes"] if n.startswith("not every")] + report.get("problems", [])
    problems += report.get("auth", {}).get("problems", [])  # hil/csms/role_auth.py
    problems += report.get("price", {}).get("problems", [])  # hil/csms/role_price.py
    problems += report.get("firmware", {}).get("problems", [])  # hil/csms/role_firmware.py
    problems += report.get("smart_charging", {}).get("problems", [])  # hil/csms/role_smart_charging.py
    per_tx: dict[str, list[dict]] = {}
    for event in report["transaction_events"]:
        per_tx.setdefault(event["tx"], []).append(event)
    if not per_tx:
        problems.append("no TransactionEvent reached the CSMS")
    for tx, events in per_tx.items():
        seqs = [e["seq"] for e in events]
        if seqs != list(range(len(seqs))):
            problems.append(f"transaction {tx}: seqNo {seqs}, expected 0..{len(seqs) - 1} once each, in order")
        if events[0]["type"] != "Started" or events[-1]["type"] != "Ended":
            problems.append(f"transaction {tx}: not Started ... Ended")
    problems += [f"transaction {tx}: seqNo {seq} came again after the CSMS had answered it"
                 for tx, seq in report.get("ledger", {}).get("duplicates", [])]
    if expect_offline and not any(e["offline"] for e in report["transaction_events"]):
        problems.append("no TransactionEvent was marked offline although the CSMS was away")
    return problems


def first_arrivals(events: list[dict]) -> list[dict]:
    """Each (transactionId, seqNo) once, at its first arrival: a repeat is the ledger's to judge."""
    seen: set[tuple] = set()
    firsts = []
    for event in events:
        key = (event["transactionInfo"]["transactionId"], event["seqNo"])
        if key not in seen:
            seen.add(key)
            firsts.append(event)
    return firsts
