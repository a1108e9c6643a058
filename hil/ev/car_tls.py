"""The rig's car as a TLS client (ISO 15118-2): TLS 1.2, the ISO-2 suite, and the station's chain checked.

The car holds V2G roots only; OpenSSL's path validation (the one the handshake runs) checks the chain the
SECC presents against them: signatures, validity, CA flags, path lengths and key usage. No host name: an
SECC certificate names no host. The car shows no certificate of its own (ISO 15118-2).
"""
from __future__ import annotations

import ssl

ISO2_CIPHERS = "ECDHE-ECDSA-AES128-SHA256"


def car_tls_context(v2g_roots_pem: bytes, *, key_log: str = "") -> ssl.SSLContext:
    """A client context trusting exactly `v2g_roots_pem` (one or more PEM certificates)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ISO2_CIPHERS)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=v2g_roots_pem.decode("ascii"))
    if key_log:
        context.keylog_filename = key_log
    return context
