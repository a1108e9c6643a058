"""The MO roots a contract may chain to: a PEM file named in the cabinet config ([v2g.tls] mo_roots), and,
when OCPP runs, the roots the CSMS installed as MORootCertificate (read at every check, so an installation
or deletion counts from the next session on)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from controller.formats.cabinet.loader import ConfigError

if TYPE_CHECKING:
    from cryptography import x509


def load_mo_roots(path: str, key: str = "v2g.tls.mo_roots") -> "list[x509.Certificate]":
    """Every certificate of the PEM file `path`; ConfigError (naming `key`) when it is unreadable or holds none."""
    from cryptography import x509
    try:
        with open(path, "rb") as source:
            text = source.read()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None
    try:
        roots = x509.load_pem_x509_certificates(text)
    except ValueError:
        raise ConfigError(key, f"{path} holds no PEM certificate") from None
    for root in roots:
        try:
            ca = root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if not ca:
            raise ConfigError(key, f"{path}: {root.subject.rfc4514_string()} is not a CA certificate")
    return roots


def combined(*sources: Callable[[], "list[x509.Certificate]"]) -> Callable[[], "list[x509.Certificate]"]:
    """One root source from several (the file's and OCPP's), read each time it is called."""
    return lambda: [root for source in sources for root in source()]
