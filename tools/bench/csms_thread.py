"""The rig's CSMS for a bench whose own code is synchronous (the CAN ingest sender): a RigCsms on an event loop
of its own in a daemon thread. It only answers and checks; the bench reads its link summary at the end."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from hil.csms.rig_role import OBSERVE, RigCsms
from tools.bench.cabinet import OCPP_ACCEPTED_TIMEOUT_S, OCPP_PROFILE, ocpp_link_summary

CALL_TIMEOUT_S = 15.0


class CsmsThread:
    def __init__(self, profile: int = OCPP_PROFILE):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bench-csms", daemon=True)
        self.csms = RigCsms(OBSERVE, profile=profile)

    def start(self) -> list[str]:
        """Listen; the controller's config overrides that point it here."""
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.csms.start(), self._loop).result(CALL_TIMEOUT_S)

    def wait_accepted(self, connectors: int) -> None:
        """Until the StatusNotification of every connector arrived (it follows BootNotification Accepted)."""
        deadline = time.monotonic() + OCPP_ACCEPTED_TIMEOUT_S
        while len(self.csms.csms.calls("StatusNotification")) < connectors:
            if time.monotonic() > deadline:
                raise RuntimeError("the controller's OCPP link was not accepted by the rig's CSMS")
            time.sleep(0.05)

    def summary(self) -> dict[str, Any]:
        return ocpp_link_summary(self.csms)

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self.csms.stop(), self._loop).result(CALL_TIMEOUT_S)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(CALL_TIMEOUT_S)
