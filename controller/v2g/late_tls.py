"""TLS for SECCs that started without a SECC leaf (issue #17).

A cabinet with no [v2g.tls] files asks the CSMS for a leaf at its first start (OCPP SignCertificate
V2GCertificate). When CertificateSigned brings it, each running SECC opens its TLS listener then, on the same
interface (or test door) as its plain one, and offers it in SDP from the next request: no restart.
A SECC whose listener cannot be opened is logged with the reason and keeps serving plain TCP.
"""
from __future__ import annotations

import logging
import ssl
from typing import Any, Iterable

from controller.v2g.secc.station import SeccStation

log = logging.getLogger(__name__)


async def add_tls_to_running(stations: Iterable[SeccStation], tls_context: ssl.SSLContext, contracts: Any) -> int:
    """Give each station TLS; the number that got it."""
    opened = 0
    for station in list(stations):
        try:
            await station.add_tls(tls_context, contracts)
        except (OSError, ValueError) as exc:  # e.g. the interface went away; the car still gets plain TCP
            log.warning("v2g: connector %s: no TLS port for the new SECC leaf (%s); plain TCP only until the "
                        "next start", station.id, exc)
            continue
        opened += 1
        log.info("v2g: connector %s: TLS on port %s from the next SDP request (new SECC leaf)", station.id,
                 station.link.v2gtp.tls_port)
    return opened
