"""certs: the certificates the station holds (installed roots, the SECC leaf) and when each ends.

The SECC leaf is the one certificate whose end stops a service on its own (Plug & Charge cars refuse the
TLS handshake), so it gets a warning 30 days ahead, here and in `status`.
"""
from __future__ import annotations

import time
from typing import Sequence

from controller.console.cabinet_view import CertificateInfo
from controller.console.formatting import table
from controller.console.registry import Command, CommandContext, CommandError, CommandRegistry, Reply

SECC_LEAF = "SECC leaf"
WARN_DAYS = 30  # issue #17: warn this long before the SECC leaf ends


def days_left(info: CertificateInfo, now: float) -> int:
    """Whole days until the end (negative once it has ended)."""
    return int((info.not_after - now) // 86400)


def expiry_warning(certificates: Sequence[CertificateInfo], now: float) -> str | None:
    """The warning line for a SECC leaf that ends within WARN_DAYS (or has ended), else None."""
    for info in certificates:
        if info.use == SECC_LEAF and "revoked" in info.status.lower():
            return f"certificates: WARNING the SECC leaf {info.subject} is REVOKED ({info.status}): renew it"
        if info.use != SECC_LEAF or info.not_after - now > WARN_DAYS * 86400:
            continue
        left = days_left(info, now)
        if left < 0 or info.not_after <= now:
            return f"certificates: WARNING the SECC leaf {info.subject} has EXPIRED: Plug & Charge cars refuse TLS"
        return (f"certificates: WARNING the SECC leaf {info.subject} ends in {left} days "
                f"({_date(info.not_after)}); renew it (OCPP SignCertificate V2GCertificate or [v2g.tls])")
    return None


def _date(t: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def certs(ctx: CommandContext, args: list[str]) -> Reply:
    if args:
        raise CommandError("usage: certs")
    now = time.time()
    found = list(ctx.cabinet.certificates())
    rows = [{"use": c.use, "subject": c.subject, "issuer": c.issuer, "not_after": _date(c.not_after),
             "days_left": days_left(c, now), "source": c.source, "status": c.status} for c in found]
    warning = expiry_warning(found, now)
    if not rows:
        text = "certificates: none installed (no OCPP roots, no SECC leaf in [v2g.tls])"
    else:
        text = table([(r["use"], r["subject"], r["issuer"], r["not_after"], r["days_left"], r["status"] or None)
                      for r in rows], ("use", "subject", "issuer", "not after (UTC)", "days left", "status"))
    if warning:
        text += "\n" + warning
    return Reply(text, {"certificates": rows, "warning": warning})


def register(registry: CommandRegistry) -> None:
    registry.add(Command("certs", certs, "installed certificates and their expiry dates", "certs",
                         "Lists the roots installed over OCPP (CSMS, manufacturer, V2G, MO) and the SECC leaf "
                         f"that ISO 15118 cars see, with the days each has left; warns {WARN_DAYS} days before "
                         "the SECC leaf ends."))
