"""The rig's CSMS in the firmware scenarios (OCPP 2.0.1 L01, secure firmware update).

The CSMS installs the rig's manufacturer root (InstallCertificate), then asks UpdateFirmware for a bundle its
own HTTP server serves on loopback (hil/csms/firmware_server.py), signed by the rig's firmware signing
certificate (hil/csms/firmware_signing.py). The controller installs it with the stand-in installer
(hil/firmware_installer.py), which records the call and writes the new version where the controller reads it.

`firmware-update`: after the cars, a good bundle: every status up to InstallRebooting, a restart, BootNotification
FirmwareUpdate, Installed. `firmware-bad-signature`: the signature is over other bytes: InvalidSignature and the
security event InvalidFirmwareSignature; the installer is never called. `firmware-download-retry`: the server
answers 503 first, then cuts the transfer half-way: the third request resumes (Range) and the update ends
Installed. `firmware-during-transaction`: asked while the first car charges: InstallScheduled, and the installer
runs only after the transaction has ended.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from ocpp.v201 import call

from hil.csms.firmware_server import FirmwareServer
from hil.csms.firmware_signing import make_firmware_pki

FIRMWARE_ROLES = ("firmware-update", "firmware-bad-signature", "firmware-download-retry",
                  "firmware-during-transaction")
OLD_VERSION, NEW_VERSION = "1.0.0", "2.0.0"
REQUEST_ID = 42
BUNDLE = b"rig firmware bundle, slot image stand-in\n" * 8000  # about 330 kB: a cut leaves a partial file
SETTLE_S = 45.0  # download, install, the controller's restart and its new link


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class FirmwareRole:
    def __init__(self, role: str, rig: Any, station: str, folder: Path):
        self.role = role
        self._rig = rig  # its csms, looked up each time
        self._station = station
        self.folder = folder
        self.pki = make_firmware_pki()
        self.server = FirmwareServer(BUNDLE, failures=("status", "cut") if role == "firmware-download-retry" else ())
        self.record = folder / "installer.jsonl"
        self.version_file = folder / "firmware-version"
        self.version_file.write_text(OLD_VERSION + "\n")
        self.answers: list[str] = []
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._sent_at: int | None = None  # the traffic's length when UpdateFirmware went out

    def overrides(self) -> list[str]:
        url = self.server.start()
        self.notes.append(f"firmware served at {url}")
        command = [sys.executable, "-m", "hil.firmware_installer", "--record", str(self.record), "--exit", "0",
                   "--version-file", str(self.version_file), "--new-version", NEW_VERSION]
        return [f'store.path={json.dumps(str(self.folder / "controller-store.db"))}',
                f"ocpp.firmware.install_command={json.dumps(command)}",
                f"ocpp.firmware.version_file={json.dumps(str(self.version_file))}",
                f'ocpp.firmware.download_dir={json.dumps(str(self.folder / "downloads"))}']

    # ---- what the CSMS sees ----------------------------------------------------------------------------
    def _calls(self, action: str, after: int = 0) -> list[dict]:
        found = []
        for entry in self._rig.csms.traffic[after:]:
            try:
                frame = json.loads(entry["frame"]) if entry["dir"] == "in" else None
            except (ValueError, TypeError):
                continue
            if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and frame[2] == action:
                found.append(frame[3])
        return found

    def statuses(self) -> list[str]:
        return [p["status"] for p in self._calls("FirmwareStatusNotification") if p.get("requestId") == REQUEST_ID]

    def installer_calls(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def _first_index(self, action: str, test) -> int | None:
        for i, entry in enumerate(self._rig.csms.traffic):
            frame = json.loads(entry["frame"]) if entry["dir"] == "in" else None
            if isinstance(frame, list) and len(frame) == 4 and frame[0] == 2 and frame[2] == action and test(frame[3]):
                return i
        return None

    # ---- the CSMS's part ------------------------------------------------------------------------------
    async def _ask(self) -> None:
        peer = self._rig.csms.peer(self._station)
        answer = await peer.call(call.InstallCertificate(certificate_type="ManufacturerRootCertificate",
                                                         certificate=self.pki.root_pem))
        self.notes.append(f"InstallCertificate ManufacturerRootCertificate: {answer.status}")
        signed = BUNDLE + b"not what was served" if self.role == "firmware-bad-signature" else BUNDLE
        self._sent_at = len(self._rig.csms.traffic)
        answer = await peer.call(call.UpdateFirmware(
            request_id=REQUEST_ID, retries=3, retry_interval=1,
            firmware={"location": self.server.url, "retrieveDateTime": _iso(time.time()),
                      "signingCertificate": self.pki.signing_pem, "signature": self.pki.sign(signed)}))
        self.answers.append(answer.status)
        self.notes.append(f"UpdateFirmware: {answer.status}")
        if answer.status != "Accepted":
            self.problems.append(f"UpdateFirmware answered {answer.status}, expected Accepted")

    async def play(self, ids: list[int], timeout_s: float) -> None:
        """firmware-during-transaction: the request while the first car charges."""
        if self.role != "firmware-during-transaction":
            return
        csms = self._rig.csms
        await csms.wait_for(lambda: any(e["transactionInfo"].get("chargingState") == "Charging"
                                        for e in self._rig._events(ids[0])), timeout_s)
        await self._ask()
        await csms.wait_for(lambda: "InstallScheduled" in self.statuses(), timeout_s)
        self.notes.append("InstallScheduled while the transaction runs")

    async def settle(self, ids: list[int]) -> None:
        try:
            if self._sent_at is None:
                if self.role == "firmware-during-transaction":
                    self.problems.append("the cars were done before UpdateFirmware could be sent while charging")
                    return
                await self._ask()
            if self.role == "firmware-bad-signature":
                await self._bad_signature()
            else:
                await self._installed()
        except TimeoutError:
            self.problems.append(f"{self.role}: firmware statuses so far {self.statuses()}, not all in {SETTLE_S:.0f} s")

    async def _bad_signature(self) -> None:
        csms = self._rig.csms
        await csms.wait_for(lambda: "InvalidSignature" in self.statuses(), SETTLE_S)
        await csms.wait_for(lambda: any(p["type"] == "InvalidFirmwareSignature"
                                        for p in self._calls("SecurityEventNotification")), SETTLE_S)
        self.notes.append("InvalidSignature and SecurityEventNotification InvalidFirmwareSignature")
        await asyncio.sleep(1.0)  # an installer started anyway would have recorded by now
        if self.installer_calls():
            self.problems.append("a bundle with a bad signature reached the installer")
        expected = ["Downloading", "Downloaded", "InvalidSignature"]
        if self.statuses() != expected:
            self.problems.append(f"firmware statuses {self.statuses()}, expected {expected}")

    async def _installed(self) -> None:
        csms = self._rig.csms
        await csms.wait_for(lambda: "Installed" in self.statuses(), SETTLE_S)
        boots = [p for p in self._calls("BootNotification", self._sent_at or 0) if p["reason"] == "FirmwareUpdate"]
        if not boots or boots[0]["chargingStation"].get("firmwareVersion") != NEW_VERSION:
            self.problems.append(f"no BootNotification FirmwareUpdate with version {NEW_VERSION} after the install")
        else:
            self.notes.append(f"BootNotification FirmwareUpdate, version {NEW_VERSION}, then Installed")
        expected = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting", "Installed"]
        if self.role == "firmware-during-transaction":
            expected.insert(3, "InstallScheduled")
        if self.statuses() != expected:
            self.problems.append(f"firmware statuses {self.statuses()}, expected {expected}")
        calls = self.installer_calls()
        if len(calls) != 1 or calls[0]["size"] != len(BUNDLE):
            self.problems.append(f"the installer was called {len(calls)} times (once, with the whole bundle, expected)")
        if self.role == "firmware-download-retry":
            answers = [r["status"] for r in self.server.requests]
            resumed = len(self.server.requests) == 3 and self.server.requests[2]["range"] == \
                f"bytes={self.server.requests[1]['sent']}-"
            if answers != [503, 200, 206] or not resumed:
                self.problems.append(f"the downloads were {self.server.requests}: expected 503, a cut 200, then a "
                                     "206 resuming where the cut left off")
        if self.role == "firmware-during-transaction":
            ended = self._first_index("TransactionEvent", lambda p: p["eventType"] == "Ended")
            installing = self._first_index("FirmwareStatusNotification", lambda p: p["status"] == "Installing")
            if ended is None or installing is None or installing < ended:
                self.problems.append("the installation began before the transaction had ended")

    def close(self) -> None:
        self.server.stop()

    def report(self) -> dict:
        return {"answers": list(self.answers), "statuses": self.statuses(), "notes": list(self.notes),
                "installer_calls": self.installer_calls(), "downloads": list(self.server.requests),
                "problems": list(self.problems)}
