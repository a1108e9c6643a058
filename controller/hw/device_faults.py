"""Which fault codes a driver has raised, so it reports each change once through on_fault(code, detail, active)."""
from __future__ import annotations

from controller.faults import FaultListener, report_fault


class DeviceFaults:
    def __init__(self, on_fault: FaultListener, device: str):
        self._on_fault = on_fault
        self._device = device
        self.active: dict[str, str] = {}  # code -> detail

    def raise_(self, code: str, detail: str) -> None:
        if code in self.active:
            return
        if report_fault(self._on_fault, self._device, code, detail, True):
            self.active[code] = detail  # only once delivered: a failed reaction is tried again on the next poll

    def clear(self, code: str, detail: str = "") -> None:
        if code not in self.active:
            return
        if report_fault(self._on_fault, self._device, code, detail, False):
            del self.active[code]

    def set(self, code: str, active: bool, detail: str) -> None:
        if active:
            self.raise_(code, detail)
        else:
            self.clear(code, detail)
