"""Persistent event, fault, session and outage log (SQLite, WAL) for the controller and NEVI reports."""
from controller.store.errors import StoreError
from controller.store.recovery import OpenReport
from controller.store.store import Store

__all__ = ["OpenReport", "Store", "StoreError"]
