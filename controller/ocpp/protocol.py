"""The station's end of OCPP-J: ocpp's v201 ChargePoint with our handlers and our answer to bad frames.

ocpp routes CALLs to the `@on` handlers and answers schema violations and unknown actions with a CALLERROR
itself; a frame it cannot parse at all (not JSON, not a list) it only logs, so that case is answered here
(OCPP-J: RpcFrameworkError, message id "-1" when none can be read). A CALLRESULT or CALLERROR that answers no
CALL of ours is dropped. Nothing a CSMS sends may end the link
task: every failure of one frame is answered and logged, and the next frame is read.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from ocpp.exceptions import FormatViolationError, OCPPError
from ocpp.messages import CallError, MessageType, unpack
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import (Action, GenericDeviceModelStatusEnumType, MessageTriggerEnumType, RequestStartStopStatusEnumType,
                             TriggerMessageStatusEnumType)
from ocpp.v201.enums import CancelReservationStatusEnumType, ReserveNowStatusEnumType

from controller.ocpp.network_profiles import NetworkProfiles
from controller.ocpp.security import StationSecurity

log = logging.getLogger(__name__)


class StationActions(Protocol):
    """What the service does for the CSMS's requests (controller/ocpp/service.py)."""

    def remote_start(self, evse_id: int | None, id_token: dict, remote_start_id: int,
                     group_id_token: dict | None = None) -> tuple[str, str | None]: ...
    def remote_stop(self, transaction_id: str) -> str: ...
    def trigger(self, message: str, evse_id: int | None) -> str: ...
    def get_variables(self, requests: list[dict]) -> list[dict]: ...
    def set_variables(self, requests: list[dict]) -> list[dict]: ...
    def base_report(self, request_id: int, base: str) -> str: ...
    def reserve_now(self, reservation_id: int, expiry: str, id_token: dict, evse_id: int | None,
                    connector_type: str | None, group_id_token: dict | None) -> str: ...
    def cancel_reservation(self, reservation_id: int) -> str: ...
    def change_availability(self, status: str, evse_id: int | None, connector_id: int | None) -> str: ...
    def unlock(self, evse_id: int, connector_id: int) -> tuple[str, dict | None]: ...
    def reset(self, kind: str, evse_id: int | None) -> tuple[str, dict | None]: ...
    def message_limit(self, action: str, payload: Any, frame: str) -> OCPPError | None: ...
    authorization: Any  # controller/ocpp/authorization.py: local list and cache requests
    security: StationSecurity  # certificates (blocks A and M): controller/ocpp/security.py
    network: NetworkProfiles  # SetNetworkProfile and the priority (B09/B10): controller/ocpp/network_profiles.py
    tariff_cost: Any  # block I, CostUpdated: controller/ocpp/tariff_cost.py
    log_uploads: Any  # GetLog (N01): controller/ocpp/get_log.py
    monitors: Any  # SetVariableMonitoring / ClearVariableMonitoring (N04, N05): controller/ocpp/monitoring.py
    firmware_updates: Any  # UpdateFirmware (block L): controller/ocpp/firmware/
    smart_charging: Any  # block K: controller/ocpp/smart_charging/desk.py


class StationProtocol(ChargePoint):
    def __init__(self, station_id: str, connection: Any, actions: StationActions, response_timeout: float,
                 on_frame=None, on_result=None):
        super().__init__(station_id, connection, response_timeout=response_timeout)
        self._actions = actions
        self._on_frame = on_frame or (lambda direction, text: None)
        self._on_result = on_result or (lambda unique_id: None)  # told first, in the frame's own callback
        self._awaited: set[str] = set()  # ids of our CALLs whose answer is still wanted

    async def call(self, payload, suppress=True, unique_id=None, skip_schema_validation=False):
        # the id is made here, before the CALL is sent, so its answer is known when it arrives
        unique_id = unique_id if unique_id is not None else str(self._unique_id_generator())
        self._awaited.add(unique_id)
        try:
            return await super().call(payload, suppress, unique_id, skip_schema_validation)
        finally:
            self._awaited.discard(unique_id)

    async def route_message(self, raw_msg):
        self._on_frame("in", raw_msg)
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            await self._send(_unparsable_answer(raw_msg, error))
            return
        except (ValueError, RecursionError) as exc:  # json's limits (4300-digit integers, deep nesting) slip past ocpp
            await self._send(_unparsable_answer(raw_msg, FormatViolationError(details={"cause": str(exc)})))
            return
        if msg.message_type_id in (MessageType.CallResult, MessageType.CallError) and not (
                isinstance(msg.unique_id, str) and msg.unique_id in self._awaited):
            # ocpp would queue it until our next CALL: a CSMS repeating stray answers would grow memory
            log.warning("OCPP: an answer to no CALL in flight dropped: %.200s", raw_msg)
            return
        if msg.message_type_id == MessageType.CallResult:
            self._on_result(msg.unique_id)  # the queue forgets it now: the smallest window for a kill -9
        if msg.message_type_id == MessageType.Call and not isinstance(msg.action, str):
            # ocpp looks the action up in a dict: a list there raised TypeError and the CALL went unanswered
            cause = {"cause": "the action name is not a string"}
            await self._send(msg.create_call_error(FormatViolationError(details=cause)).to_json())
            return
        limit = getattr(self._actions, "message_limit", None)  # DeviceDataCtrlr: controller/ocpp/device_data.py
        refused = limit(msg.action, msg.payload, raw_msg) if limit and msg.message_type_id == MessageType.Call else None
        if refused is not None:
            await self._send(msg.create_call_error(refused).to_json())
            return
        try:
            await super().route_message(raw_msg)
        except Exception:  # a handler's own bug: the CSMS gets no answer to that one frame, the link lives on
            log.exception("OCPP frame failed: %.200s", raw_msg)

    async def _send(self, message):
        self._on_frame("out", message)
        await super()._send(message)

    @on(Action.request_start_transaction)
    def _request_start(self, id_token: dict, remote_start_id: int, evse_id: int | None = None,
                       group_id_token: dict | None = None, **_: Any):
        status, transaction_id = self._actions.remote_start(evse_id, id_token, remote_start_id, group_id_token)
        return call_result.RequestStartTransaction(status=RequestStartStopStatusEnumType(status),
                                                   transaction_id=transaction_id)

    @on(Action.request_stop_transaction)
    def _request_stop(self, transaction_id: str, **_: Any):
        status = self._actions.remote_stop(transaction_id)
        return call_result.RequestStopTransaction(status=RequestStartStopStatusEnumType(status))

    @on(Action.trigger_message)
    def _trigger(self, requested_message: str, evse: dict | None = None, **_: Any):
        evse_id = (evse or {}).get("id")
        status = self._actions.trigger(MessageTriggerEnumType(requested_message).value, evse_id)
        return call_result.TriggerMessage(status=TriggerMessageStatusEnumType(status))

    @on(Action.get_variables)
    def _get_variables(self, get_variable_data: list, **_: Any):
        return call_result.GetVariables(get_variable_result=self._actions.get_variables(get_variable_data))

    @on(Action.set_variables)
    def _set_variables(self, set_variable_data: list, **_: Any):
        return call_result.SetVariables(set_variable_result=self._actions.set_variables(set_variable_data))

    @on(Action.get_base_report)
    def _get_base_report(self, request_id: int, report_base: str, **_: Any):
        status = self._actions.base_report(request_id, report_base)
        return call_result.GetBaseReport(status=GenericDeviceModelStatusEnumType(status))

    @on(Action.reserve_now)
    def _reserve_now(self, id: int, expiry_date_time: str, id_token: dict, evse_id: int | None = None,
                     connector_type: str | None = None, group_id_token: dict | None = None, **_: Any):
        status = self._actions.reserve_now(id, expiry_date_time, id_token, evse_id, connector_type, group_id_token)
        return call_result.ReserveNow(status=ReserveNowStatusEnumType(status))

    @on(Action.cancel_reservation)
    def _cancel_reservation(self, reservation_id: int, **_: Any):
        status = self._actions.cancel_reservation(reservation_id)
        return call_result.CancelReservation(status=CancelReservationStatusEnumType(status))
    @on(Action.change_availability)
    def _change_availability(self, operational_status: str, evse: dict | None = None, **_: Any):
        evse = evse or {}
        status = self._actions.change_availability(operational_status, evse.get("id"), evse.get("connector_id"))
        return call_result.ChangeAvailability(status=status)

    @on(Action.unlock_connector)
    def _unlock_connector(self, evse_id: int, connector_id: int, **_: Any):
        status, info = self._actions.unlock(evse_id, connector_id)
        return call_result.UnlockConnector(status=status, status_info=info)

    @on(Action.reset)
    def _reset(self, type: str, evse_id: int | None = None, **_: Any):
        status, info = self._actions.reset(type, evse_id)
        return call_result.Reset(status=status, status_info=info)

    @on(Action.send_local_list)
    def _send_local_list(self, version_number: int, update_type: str, local_authorization_list: list | None = None,
                         **_: Any):
        status = self._actions.authorization.send_local_list(version_number, update_type, local_authorization_list)
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    def _get_local_list_version(self, **_: Any):
        return call_result.GetLocalListVersion(version_number=self._actions.authorization.local_list_version())

    @on(Action.clear_cache)
    def _clear_cache(self, **_: Any):
        return call_result.ClearCache(status=self._actions.authorization.clear_cache())

    @on(Action.certificate_signed)
    def _certificate_signed(self, certificate_chain: str, certificate_type: str | None = None, **_: Any):
        status, info = self._actions.security.certificate_signed(certificate_chain, certificate_type)
        return call_result.CertificateSigned(status=status, status_info=info)

    @on(Action.install_certificate)
    def _install_certificate(self, certificate_type: str, certificate: str, **_: Any):
        status, info = self._actions.security.install_certificate(certificate_type, certificate)
        return call_result.InstallCertificate(status=status, status_info=info)

    @on(Action.delete_certificate)
    def _delete_certificate(self, certificate_hash_data: dict, **_: Any):
        return call_result.DeleteCertificate(status=self._actions.security.delete_certificate(certificate_hash_data))

    @on(Action.get_installed_certificate_ids)
    def _get_installed_certificate_ids(self, certificate_type: list | None = None, **_: Any):
        status, chains = self._actions.security.installed_ids(certificate_type)
        return call_result.GetInstalledCertificateIds(status=status, certificate_hash_data_chain=chains)

    @on(Action.set_network_profile)
    def _set_network_profile(self, configuration_slot: int, connection_data: dict, **_: Any):
        status, info = self._actions.network.set_profile(configuration_slot, connection_data)
        return call_result.SetNetworkProfile(status=status, status_info=info)

    @on(Action.cost_updated)
    def _cost_updated(self, total_cost: float, transaction_id: str, **_: Any):
        self._actions.tariff_cost.cost_updated(total_cost, transaction_id)
        return call_result.CostUpdated()

    @on(Action.get_log)
    def _get_log(self, log: dict, log_type: str, request_id: int, retries: int | None = None,
                 retry_interval: int | None = None, **_: Any):
        status, filename, info = self._actions.log_uploads.request(log, log_type, request_id, retries, retry_interval)
        return call_result.GetLog(status=status, filename=filename, status_info=info)

    @on(Action.set_variable_monitoring)
    def _set_variable_monitoring(self, set_monitoring_data: list, **_: Any):
        return call_result.SetVariableMonitoring(set_monitoring_result=self._actions.monitors.set(set_monitoring_data))

    @on(Action.clear_variable_monitoring)
    def _clear_variable_monitoring(self, id: list, **_: Any):
        return call_result.ClearVariableMonitoring(clear_monitoring_result=self._actions.monitors.clear(id))

    @on(Action.get_monitoring_report)
    def _get_monitoring_report(self, request_id: int, monitoring_criteria: list | None = None,
                               component_variable: list | None = None, **_: Any):
        status = self._actions.monitors.report(request_id, monitoring_criteria, component_variable)
        return call_result.GetMonitoringReport(status=status)

    @on(Action.update_firmware)
    def _update_firmware(self, request_id: int, firmware: dict, retries: int | None = None,
                         retry_interval: int | None = None, **_: Any):
        status, info = self._actions.firmware_updates.update(request_id, firmware, retries, retry_interval)
        return call_result.UpdateFirmware(status=status, status_info=info)

    @on(Action.set_charging_profile)
    def _set_charging_profile(self, evse_id: int, charging_profile: dict, **_: Any):
        status, info = self._actions.smart_charging.set_profile(evse_id, charging_profile)
        return call_result.SetChargingProfile(status=status, status_info=info)

    @on(Action.clear_charging_profile)
    def _clear_charging_profile(self, charging_profile_id: int | None = None,
                                charging_profile_criteria: dict | None = None, **_: Any):
        status = self._actions.smart_charging.clear(charging_profile_id, charging_profile_criteria)
        return call_result.ClearChargingProfile(status=status)

    @on(Action.get_charging_profiles)
    def _get_charging_profiles(self, request_id: int, charging_profile: dict, evse_id: int | None = None, **_: Any):
        status = self._actions.smart_charging.get_profiles(request_id, evse_id, charging_profile)
        return call_result.GetChargingProfiles(status=status)

    @after(Action.get_charging_profiles)
    def _after_get_charging_profiles(self, **_: Any):
        self._actions.smart_charging.send_reports()  # ReportChargingProfiles after the answer

    @on(Action.get_composite_schedule)
    def _get_composite_schedule(self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any):
        status, schedule, info = self._actions.smart_charging.composite_schedule(duration, evse_id, charging_rate_unit)
        return call_result.GetCompositeSchedule(status=status, schedule=schedule, status_info=info)

    @after(Action.set_variables)
    def _after_set_variables(self, **_: Any):
        self._actions.network.after_answer()  # a new NetworkConfigurationPriority: reconnect once answered


def _unparsable_answer(raw: Any, error: OCPPError) -> str:
    """The CALLERROR for a frame ocpp could not unpack, with its message id when one can be read."""
    unique_id = "-1"
    try:
        frame = json.loads(raw)
        if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str) and frame[0] == 2:
            unique_id = frame[1]
    except (ValueError, TypeError, RecursionError):
        pass
    code = "RpcFrameworkError" if unique_id == "-1" else error.code
    return CallError(unique_id, code, error.description or "frame not understood",
                     {"cause": str(error.details.get("cause", ""))[:200]} if error.details else {}).to_json()
