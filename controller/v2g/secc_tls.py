"""TLS on the V2GTP port (ISO 15118-2 section 7.7.3.2): the SECC's server context.

ISO 15118-2 asks for TLS 1.2 with TLS_ECDH(E)_ECDSA_WITH_AES_128_CBC_SHA256 on secp256r1; OpenSSL offers
only the ephemeral (ECDHE) one. The SECC presents its leaf and the CPO sub-CAs (the car holds the V2G root)
and asks no client certificate (-2 has none). The key file must be readable by its owner only; its content
is never logged (errors name the file and the reason only).

The key log (the SSLKEYLOGFILE format of NSS) is for the rig's packet captures: with it Wireshark and
`charger-v2g pcap` decode recorded TLS sessions. Never on a charger.
"""
from __future__ import annotations

import logging
import os
import ssl
import stat

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from controller.formats.cabinet.loader import ConfigError

log = logging.getLogger(__name__)

ISO2_CIPHERS = "ECDHE-ECDSA-AES128-SHA256"
ISO2_CURVE = "prime256v1"  # OpenSSL's name of secp256r1
HANDSHAKE_TIMEOUT_S = 5.0


def _check_key_file(path: str, key: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(key, f"{path} is not a regular file")
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(key, f"{path} must be readable by its owner only (mode 0600, is "
                               f"{stat.S_IMODE(mode):04o})")


def _check_leaf(path: str, key: str) -> None:
    """The first certificate of the chain file is the SECC leaf: an ECDSA P-256 key, as ISO 15118-2 needs."""
    try:
        with open(path, "rb") as chain:
            leaf = x509.load_pem_x509_certificates(chain.read())[0]
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(key, f"{path} holds no PEM certificate") from None
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
        raise ConfigError(key, f"{path}: the SECC leaf's key is not on secp256r1 (ISO 15118-2)")


def secc_tls_context(cert_chain: str, key_file: str, *, key_log: str = "",
                     prefix: str = "v2g.tls") -> ssl.SSLContext:
    """The server context; ConfigError (naming `prefix`.cert_chain / .key) for anything unusable."""
    _check_leaf(cert_chain, f"{prefix}.cert_chain")
    _check_key_file(key_file, f"{prefix}.key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(ISO2_CIPHERS)
    context.set_ecdh_curve(ISO2_CURVE)
    context.verify_mode = ssl.CERT_NONE  # ISO 15118-2: the car shows no certificate in TLS
    context.options |= ssl.OP_NO_COMPRESSION
    try:
        context.load_cert_chain(cert_chain, key_file)
    except ssl.SSLError as exc:  # the key does not match the leaf, or is not a PEM key
        raise ConfigError(f"{prefix}.key", f"{key_file} is not the private key of the leaf in {cert_chain} "
                                           f"({exc.reason or 'unreadable'})") from None
    if key_log:
        log.warning("v2g: TLS key log %s is on: TLS sessions can be decrypted (test rig only)", key_log)
        context.keylog_filename = key_log
    return context

