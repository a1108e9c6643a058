"""The rig's CSMS in the diagnostics scenarios (OCPP 2.0.1 block N).

`get-log`: once the car's transaction has ended the CSMS asks GetLog (DiagnosticsLog) with the rig's upload
server as remoteLocation (hil/csms/upload_server.py); the station must answer Accepted, tell Uploading and
Uploaded with the requestId, and the archive that arrives must unpack, with a manifest naming the station and
the event log holding the session's events (the controller gets a store for this).

`monitoring`: while the car charges the CSMS sets an UpperThreshold monitor on the charging EVSE's output
voltage (DCVoltage), below the voltage the car charges at; the station must answer Accepted and send a
NotifyEvent (trigger Alerting, the monitor's id) for it.

A step that did not happen is a problem, which the verdict counts.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from ocpp.v201 import call

from hil.csms.upload_server import UploadServer

ROLES = ("get-log", "monitoring")
REQUEST_ID = 4242
VOLTAGE_THRESHOLD_V = 100.0  # well below any DC charging voltage of the rig's cars


class DiagnosticsRole:
    def __init__(self, rig: Any, station: str):
        self.rig = rig
        self.station = station
        self.problems: list[str] = []
        self.upload = UploadServer(rig.folder / "uploads") if rig.role == "get-log" else None
        self.archive: dict | None = None  # what the upload held: member names, manifest

    def overrides(self) -> list[str]:
        """A store, so that the archive has an event log."""
        return [f'store.path="{self.rig.folder / "controller-store.db"}"']

    async def play(self, ids: list[int], timeout_s: float) -> None:
        if self.rig.role != "monitoring":
            return
        cid = ids[0]
        try:
            await self.rig.csms.wait_for(lambda: any(e["transactionInfo"].get("chargingState") == "Charging"
                                                     for e in self.rig._events(cid)), timeout_s)
            answer = await self.rig.csms.peer(self.station).call(call.SetVariableMonitoring(set_monitoring_data=[{
                "value": VOLTAGE_THRESHOLD_V, "type": "UpperThreshold", "severity": 5,
                "component": {"name": "EVSE", "evse": {"id": cid}}, "variable": {"name": "DCVoltage"}}]))
            result = answer.set_monitoring_result[0]
            self.rig.notes.append(f"SetVariableMonitoring UpperThreshold {VOLTAGE_THRESHOLD_V:g} V on EVSE {cid}: "
                                  f"{result['status']} (id {result.get('id')})")
            if result["status"] != "Accepted":
                self.problems.append(f"SetVariableMonitoring answered {result['status']}, expected Accepted")
                return
            monitor_id = result["id"]
            event = await self.rig.csms.wait_for(lambda: _monitor_event(self.rig.csms, monitor_id), timeout_s)
            self.rig.notes.append(f"NotifyEvent {event['trigger']} for monitor {monitor_id}: "
                                  f"DCVoltage {event['actualValue']} V")
            if event["trigger"] != "Alerting" or event["component"].get("evse", {}).get("id") != cid:
                self.problems.append(f"the monitor's NotifyEvent is not an Alerting on EVSE {cid}: {event}")
        except TimeoutError:
            self.problems.append("not every step of monitoring came: no NotifyEvent for the voltage monitor")

    async def settle(self, timeout_s: float) -> None:
        if self.upload is None:
            return
        url = self.upload.start()
        try:
            answer = await self.rig.csms.peer(self.station).call(call.GetLog(
                log={"remote_location": url}, log_type="DiagnosticsLog", request_id=REQUEST_ID, retries=1,
                retry_interval=1))
            self.rig.notes.append(f"GetLog DiagnosticsLog: {answer.status} ({answer.filename})")
            if answer.status != "Accepted":
                self.problems.append(f"GetLog answered {answer.status}, expected Accepted")
                return
            final = await self.rig.csms.wait_for(lambda: _final_status(self.rig.csms), timeout_s)
            statuses = [s for s, r in _log_statuses(self.rig.csms) if r == REQUEST_ID]
            self.rig.notes.append(f"LogStatusNotification: {', '.join(statuses)}")
            if final != "Uploaded" or statuses[0] != "Uploading":
                self.problems.append(f"LogStatusNotification {statuses}, expected Uploading then Uploaded")
                return
            self._check_archive(self.upload.saved())
        except TimeoutError:
            self.problems.append("not every step of get-log came: no final LogStatusNotification")
        finally:
            self.upload.stop()

    def _check_archive(self, saved: list[Path]) -> None:
        if len(saved) != 1:
            self.problems.append(f"{len(saved)} archives arrived at the upload server, expected 1")
            return
        try:
            with tarfile.open(fileobj=io.BytesIO(saved[0].read_bytes()), mode="r:gz") as tar:
                files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
            manifest = json.loads(files["manifest.json"])
            events = [json.loads(line) for line in files.get("events.jsonl", b"").splitlines()]
        except (tarfile.TarError, KeyError, ValueError, OSError) as exc:
            self.problems.append(f"the uploaded archive does not unpack: {exc!r}")
            return
        self.archive = {"file": str(saved[0]), "members": sorted(files), "events": len(events),
                        "missing": manifest.get("missing", [])}
        self.rig.notes.append(f"archive {saved[0].name}: {len(files)} files, {len(events)} events")
        if manifest.get("station_id") != self.station:
            self.problems.append(f"the archive's manifest names station {manifest.get('station_id')!r}")
        if not any(e.get("kind") == "phase" and e.get("message") == "charging" for e in events):
            kinds = sorted({str(e.get("kind")) for e in events})
            self.problems.append(f"the archive's event log does not hold the session's charging phase "
                                 f"(kinds: {kinds[:20]})")

    def report(self) -> dict:
        return {"archive": self.archive, "uploads": [u.__dict__ | {"saved": str(u.saved)} for u in
                                                     (self.upload.uploads if self.upload else [])]}

    def close(self) -> None:
        if self.upload is not None:
            self.upload.stop()


def _log_statuses(csms: Any) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for p in csms.calls("LogStatusNotification")]


def _final_status(csms: Any) -> str | None:
    finals = [s for s, r in _log_statuses(csms) if r == REQUEST_ID and s not in ("Uploading", "Idle")]
    return finals[-1] if finals else None


def _monitor_event(csms: Any, monitor_id: int) -> dict | None:
    for payload in csms.calls("NotifyEvent"):
        for event in payload["eventData"]:
            if event.get("variableMonitoringId") == monitor_id:
                return event
    return None
