"""Signed firmware updates over OCPP 2.0.1 (block L): controller/ocpp/firmware/updates.py."""
from controller.ocpp.firmware.updates import FirmwareUpdates

__all__ = ["FirmwareUpdates"]
