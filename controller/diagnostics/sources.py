"""Where a running controller's diagnostics come from: its config, store, connectors and (with OCPP) its
security log. Duck-typed, so neither the console nor OCPP needs the app to build an archive."""
from __future__ import annotations

import platform
from importlib import metadata
from typing import Any, Callable, Sequence

from controller.diagnostics.archive import ArchiveSources
from controller.diagnostics.log_ring import recent_log


def controller_version() -> str:
    try:
        return metadata.version("dc-charger-controller")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def station_sources(config: Any, store: Any, connectors: Sequence[Any],
                    security_log: Callable[[], list[dict]] | None = None) -> ArchiveSources:
    """`config`: the CabinetConfig; `store`: the Store or None; `connectors`: each with fault_history."""
    diag = config.diagnostics

    def memory_faults() -> list[dict]:
        return [{"code": f.code, "connector": f.connector_id, "severity": f.severity, "detail": f.detail,
                 "raised_t": f.t, "cleared_t": None} for c in list(connectors) for f in list(c.fault_history)]

    return ArchiveSources(
        station_id=config.ocpp.station_id or config.name,
        versions={"controller": controller_version(), "python": platform.python_version(),
                  "power_vendor": config.power.vendor},
        max_bytes=diag.max_archive_kb * 1024, store=store, memory_faults=memory_faults,
        recent_log=recent_log(), log_file=diag.log_file, journal_unit=diag.journal_unit, capture_dir=diag.capture_dir, security_log=security_log)
