"""Decrypt a captured ISO 15118-2 TLS 1.2 connection with its key log, for the capture dissector.

ISO 15118-2's suites are TLS_ECDH(E)_ECDSA_WITH_AES_128_CBC_SHA256: with the session's master secret (an
SSLKEYLOGFILE line "CLIENT_RANDOM <client random> <master secret>", hex) the record keys follow from the
TLS 1.2 PRF (RFC 5246 section 5, 6.3). Each encrypted record is explicit IV + AES-128-CBC(content + HMAC-SHA256
+ padding), or with encrypt-then-MAC (RFC 7366, which OpenSSL negotiates for CBC suites) explicit IV +
AES-128-CBC(content + padding) + HMAC-SHA256 over that; the MAC is checked, so a wrong key log shows as an
error rather than as garbage.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
CLIENT_HELLO, SERVER_HELLO = 1, 2
ENCRYPT_THEN_MAC = 22  # the extension's type
AES128_CBC_SHA256 = {0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
                     0xC025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"}
MAC_LENGTH, KEY_LENGTH, BLOCK = 32, 16, 16


class TlsKeyLogError(ValueError):
    pass


def read_key_log(path: str | Path) -> dict[bytes, bytes]:
    """client random -> master secret from an SSLKEYLOGFILE (other line kinds, e.g. TLS 1.3's, are skipped)."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise TlsKeyLogError(f"cannot read the TLS key log {path}: {getattr(exc, 'strerror', None) or exc}") from None
    keys = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if len(fields) == 3 and fields[0] == "CLIENT_RANDOM":
            try:
                keys[bytes.fromhex(fields[1])] = bytes.fromhex(fields[2])
            except ValueError:
                raise TlsKeyLogError(f"{path} line {number}: not hex") from None
    return keys


def looks_like_tls(data: bytes) -> bool:
    """The first bytes of a connection are a TLS handshake record holding a ClientHello."""
    return (len(data) >= 6 and data[0] == HANDSHAKE and data[1] == 3 and data[2] <= 4
            and int.from_bytes(data[3:5], "big") <= 2 ** 14 + 2048 and data[5] == CLIENT_HELLO)


def prf_sha256(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """TLS 1.2's PRF with SHA-256 (RFC 5246 section 5)."""
    seed = label + seed
    out, a = b"", seed
    while len(out) < length:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:length]


class _Side:
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.encrypted = False
        self.sequence = 0
        self.mac_key = self.key = b""


class Tls12Decryptor:
    """Feed each direction's TCP bytes; get that direction's decrypted application data back. `problem` says
    why nothing can be decrypted (no key for this session, another cipher suite, a bad record MAC)."""

    def __init__(self, keys: dict[bytes, bytes]):
        self._keys = keys
        self._sides = {True: _Side(), False: _Side()}  # by "from the client"
        self._client_random = self._server_random = b""
        self.cipher_suite: str = ""
        self.encrypt_then_mac = False
        self.problem = ""

    def feed(self, from_client: bool, data: bytes) -> bytes:
        side = self._sides[from_client]
        side.buffer += data
        out = bytearray()
        while len(side.buffer) >= 5 and not self.problem:
            kind, length = side.buffer[0], struct.unpack("!H", side.buffer[3:5])[0]
            if len(side.buffer) < 5 + length:
                break
            body = bytes(side.buffer[5:5 + length])
            version = bytes(side.buffer[1:3])
            del side.buffer[:5 + length]
            if kind == CHANGE_CIPHER_SPEC:
                self._start_encryption(from_client)
                continue
            if side.encrypted:
                body = self._decrypt(side, kind, version, body)
                if body is None:
                    break
            elif kind == HANDSHAKE:
                self._hello(body)
            if kind == APPLICATION_DATA:
                out += body
        return bytes(out)

    def _hello(self, body: bytes) -> None:
        """Randoms and the suite from ClientHello and ServerHello (the first messages of their records)."""
        while len(body) >= 4:
            kind, length = body[0], int.from_bytes(body[1:4], "big")
            message, body = body[4:4 + length], body[4 + length:]
            if kind == CLIENT_HELLO and len(message) >= 34:
                self._client_random = message[2:34]
            elif kind == SERVER_HELLO and len(message) >= 35:
                self._server_random = message[2:34]
                at = 35 + message[34]
                suite = int.from_bytes(message[at:at + 2], "big")
                self.cipher_suite = AES128_CBC_SHA256.get(suite, f"0x{suite:04x}")
                self.encrypt_then_mac = ENCRYPT_THEN_MAC in _extensions(message[at + 3:])  # after suite, compression

    def _start_encryption(self, from_client: bool) -> None:
        side = self._sides[from_client]
        side.encrypted, side.sequence = True, 0
        if self.cipher_suite not in AES128_CBC_SHA256.values():
            self.problem = f"cipher suite {self.cipher_suite or 'unknown'} is not one of ISO 15118-2's"
            return
        master = self._keys.get(self._client_random)
        if master is None:
            self.problem = "no key for this TLS session in the key log"
            return
        block = prf_sha256(master, b"key expansion", self._server_random + self._client_random,
                           2 * MAC_LENGTH + 2 * KEY_LENGTH)
        client_mac, server_mac = block[:MAC_LENGTH], block[MAC_LENGTH:2 * MAC_LENGTH]
        client_key, server_key = block[2 * MAC_LENGTH:2 * MAC_LENGTH + KEY_LENGTH], block[2 * MAC_LENGTH + KEY_LENGTH:]
        side.mac_key, side.key = (client_mac, client_key) if from_client else (server_mac, server_key)

    def _decrypt(self, side: _Side, kind: int, version: bytes, body: bytes) -> bytes | None:
        if len(body) < 2 * BLOCK or len(body) % BLOCK:
            self.problem = "an encrypted record that is not whole AES blocks"
            return None
        if self.encrypt_then_mac:  # the MAC covers IV and ciphertext and follows them
            body, mac = body[:-MAC_LENGTH], body[-MAC_LENGTH:]
            if not self._mac_matches(side, kind, version, body, mac):
                return None
        decryptor = Cipher(algorithms.AES(side.key), modes.CBC(body[:BLOCK])).decryptor()
        plain = decryptor.update(body[BLOCK:]) + decryptor.finalize()
        padding = plain[-1] + 1
        if len(plain) < padding + (0 if self.encrypt_then_mac else MAC_LENGTH):
            self.problem = "bad record padding: the key log does not belong to this capture"
            return None
        content = plain[:-padding]
        if not self.encrypt_then_mac:  # MAC-then-encrypt: the MAC over the content, inside the ciphertext
            content, mac = content[:-MAC_LENGTH], content[-MAC_LENGTH:]
            if not self._mac_matches(side, kind, version, content, mac):
                return None
        side.sequence += 1
        return content

    def _mac_matches(self, side: _Side, kind: int, version: bytes, covered: bytes, mac: bytes) -> bool:
        header = struct.pack("!QB", side.sequence, kind) + version + struct.pack("!H", len(covered))
        if hmac.compare_digest(mac, hmac.new(side.mac_key, header + covered, hashlib.sha256).digest()):
            return True
        self.problem = "bad record MAC: the key log does not belong to this capture"
        return False


def _extensions(data: bytes) -> set[int]:
    """The extension types of a hello's extensions block (length-prefixed)."""
    if len(data) < 2:
        return set()
    data = data[2:2 + int.from_bytes(data[:2], "big")]
    found = set()
    while len(data) >= 4:
        found.add(int.from_bytes(data[:2], "big"))
        data = data[4 + int.from_bytes(data[2:4], "big"):]
    return found
