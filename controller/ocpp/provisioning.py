"""The CSMS's device-model requests (OCPP 2.0.1 block B): GetVariables, SetVariables, GetBaseReport.

Payloads arrive and leave in the `ocpp` package's snake_case. A GetBaseReport is answered at once; its
NotifyReport parts are sent afterwards by the link's worker (a handler must not wait for a CALL's answer:
answers are read by the same task that runs the handler).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from ocpp.v201 import call

from controller.ocpp.device_model import DeviceModel
from controller.ocpp.transactions import timestamp

REPORT_PART = 20  # reportData entries per NotifyReport
REPORT_BASES = ("ConfigurationInventory", "FullInventory")  # SummaryInventory: NotSupported


class Provisioning:
    def __init__(self, device_model: DeviceModel, wake: Callable[[], None]):
        self.device_model = device_model
        self._wake = wake
        self._reports: list[tuple[int, str]] = []  # (requestId, reportBase) still to send

    def get_variables(self, requests: list[dict]) -> list[dict]:
        results = []
        for item in requests:
            status, value = self.device_model.get(item["component"], item["variable"], item.get("attribute_type"))
            results.append({"attribute_status": status, "attribute_type": item.get("attribute_type") or "Actual",
                            "component": item["component"], "variable": item["variable"],
                            **({"attribute_value": value} if value is not None else {})})
        return results

    def set_variables(self, requests: list[dict]) -> list[dict]:
        return [{"attribute_status": self.device_model.set(item["component"], item["variable"],
                                                           item.get("attribute_type"), item["attribute_value"]),
                 "attribute_type": item.get("attribute_type") or "Actual",
                 "component": item["component"], "variable": item["variable"]} for item in requests]

    def base_report(self, request_id: int, base: str) -> str:
        if base not in REPORT_BASES:
            return "NotSupported"
        self._reports.append((request_id, base))
        self._wake()
        return "Accepted"

    async def send_reports(self, send: Callable[[Any], Awaitable[Any]], now: float) -> None:
        """Every report asked for, in parts of REPORT_PART with seqNo from 0 and tbc on all but the last."""
        while self._reports:
            request_id, base = self._reports.pop(0)
            data = self.device_model.report(base)
            parts = [data[i:i + REPORT_PART] for i in range(0, len(data), REPORT_PART)] or [[]]
            for seq_no, part in enumerate(parts):
                await send(call.NotifyReport(request_id=request_id, generated_at=timestamp(now), seq_no=seq_no,
                                             report_data=part or None, tbc=seq_no < len(parts) - 1))
