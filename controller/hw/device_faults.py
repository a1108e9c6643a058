"""Which fault codes a driver has raised, so it reports each change once through on_fault(code, detail, active)."""
from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)

FaultCallback = Callable[[str, str, bool], None]


class DeviceFaults:
    def __init__(self, on_fault: FaultCallback, device: str):
        self._on_fault = on_fault
        self._device = device
        self.active: dict[str, str] = {}  # code -> detail

    def raise_(self, code: str, detail: str) -> None:
        if code in self.active:
            return
        self.active[code] = detail
        self._report(code, detail, True)

    def clear(self, code: str, detail: str = "") -> None:
        if self.active.pop(code, None) is None:
            return
        self._report(code, detail, False)

    def set(self, code: str, active: bool, detail: str) -> None:
        if active:
            self.raise_(code, detail)
        else:
            self.clear(code, detail)

    def _report(self, code: str, detail: str, active: bool) -> None:
        log.log(logging.WARNING if active else logging.INFO, "%s: %s %s %s", self._device, code,
                "raised" if active else "cleared", detail)
        try:
            self._on_fault(code, detail, active)
        except Exception:  # a broken listener must not stop the polling that guards the cable
            log.exception("%s: fault listener failed on %s", self._device, code)
