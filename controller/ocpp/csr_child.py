"""A certificate signing request made in a short-lived child process.

The controller runs for months; `cryptography` costs it about 9 MB of resident memory once imported (against a
60 MB budget), and a station that waits for its SECC leaf or its own certificate would otherwise carry that for
a single key and CSR. The child makes the P-256 key (or reuses the pending one), writes it 0600 with the
certificate store's atomic write, prints the CSR in PEM and exits; the parent never imports cryptography for it.

    python -m controller.ocpp.csr_child   < {"key_file": PATH, "names": [["CN", "..."], ...], "new_key": true}

Subject attributes by their short names: CN, O, C, DC (in the order given). Exit status 0 with the PEM on
stdout, or 1 with one line on stderr saying why (the key file cannot be written, the pending key is unreadable).
"""
from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

CHILD_TIMEOUT_S = 30.0  # a key, a CSR and one file: a hung child must not hold the OCPP worker forever
_ATTRIBUTES = ("CN", "O", "C", "DC")


def build_csr(key_file: Path, names: list[tuple[str, str]], new_key: bool = True) -> str:
    """The CSR's PEM for a new P-256 key (written to `key_file`, 0600) or for the key already there."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from controller.ocpp.certificates import write_atomically

    oids = {"CN": x509.NameOID.COMMON_NAME, "O": x509.NameOID.ORGANIZATION_NAME,
            "C": x509.NameOID.COUNTRY_NAME, "DC": x509.NameOID.DOMAIN_COMPONENT}
    if not new_key and key_file.exists():
        key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(oids[short], value) for short, value in names])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    write_atomically(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), 0o600)
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


async def csr_in_child(key_file: Path, names: list[tuple[str, str]], new_key: bool = True) -> str:
    """build_csr in a child process; OSError with the child's reason when it fails or hangs."""
    request = json.dumps({"key_file": str(key_file), "names": [list(n) for n in names], "new_key": new_key})
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(child.communicate(request.encode()), CHILD_TIMEOUT_S)
    except asyncio.TimeoutError:
        raise OSError(f"the CSR child did not finish within {CHILD_TIMEOUT_S:.0f} s") from None
    finally:  # hung, or the link stopped meanwhile: no child outlives the request
        if child.returncode is None:
            child.kill()
            await child.wait()
    if child.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()
        raise OSError(f"the CSR child failed: {reason[-1] if reason else f'exit status {child.returncode}'}")
    return out.decode("ascii")


def _request(text: str) -> tuple[Path, list[tuple[str, str]], bool]:
    request = json.loads(text)
    names = [(str(short), str(value)) for short, value in request["names"]]
    unknown = [short for short, _ in names if short not in _ATTRIBUTES]
    if unknown or not names:
        raise ValueError(f"subject attributes {unknown or 'none'}; expected some of {', '.join(_ATTRIBUTES)}")
    return Path(request["key_file"]), names, bool(request.get("new_key", True))


def main() -> int:
    try:
        key_file, names, new_key = _request(sys.stdin.read())
        sys.stdout.write(build_csr(key_file, names, new_key))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"csr_child: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
