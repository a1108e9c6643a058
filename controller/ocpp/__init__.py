"""OCPP 2.0.1 to the operator's CSMS: a service on top of the connectors (see service.py)."""
from controller.ocpp.service import OcppService

__all__ = ["OcppService"]
