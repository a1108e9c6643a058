"""A captured ISO 15118-2 TLS 1.2 connection is decrypted with its key log (and only with the right one)."""
from __future__ import annotations

import ssl

import pytest

from controller.formats.capture.tls12 import Tls12Decryptor, looks_like_tls, prf_sha256, read_key_log
from controller.v2g.secc_tls import secc_tls_context
from hil.ev.car_tls import car_tls_context
from hil.pki.rig_pki import rig_pki, write_secc_files

pytestmark = pytest.mark.timeout(30)


NO_ENCRYPT_THEN_MAC = 1 << 19  # OpenSSL's SSL_OP_NO_ENCRYPT_THEN_MAC: a car whose stack does MAC-then-encrypt


def _session(tmp_path, exchanges: list[tuple[bytes, bytes]], client_options: int = 0
             ) -> tuple[list[tuple[bool, bytes]], dict]:
    """A whole TLS session between the SECC's and the car's contexts through memory: the wire chunks in order
    (from the client?, bytes) and the key log the SECC wrote."""
    pki = rig_pki()
    files = write_secc_files(tmp_path, pki.secc, pki.secc_chain())
    key_log = tmp_path / "keys.log"
    server_bios, client_bios = (ssl.MemoryBIO(), ssl.MemoryBIO()), (ssl.MemoryBIO(), ssl.MemoryBIO())
    server = secc_tls_context(str(files.chain), str(files.key), key_log=str(key_log)).wrap_bio(
        *server_bios, server_side=True)
    client_context = car_tls_context(pki.v2g_root.cert_pem())
    client_context.options |= client_options
    client = client_context.wrap_bio(*client_bios, server_side=False)
    wire: list[tuple[bool, bytes]] = []

    def pump() -> None:
        for from_client, source, target in ((True, client_bios[1], server_bios[0]),
                                            (False, server_bios[1], client_bios[0])):
            data = source.read()
            if data:
                wire.append((from_client, data))
                target.write(data)

    for _ in range(10):
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        pump()
    for request, answer in exchanges:
        client.write(request)
        pump()
        assert server.read(65536) == request
        server.write(answer)
        pump()
        assert client.read(65536) == answer
    return wire, read_key_log(key_log)


@pytest.mark.parametrize("client_options, encrypt_then_mac", [(0, True), (NO_ENCRYPT_THEN_MAC, False)])
def test_the_application_data_of_both_directions_comes_back(tmp_path, client_options, encrypt_then_mac):
    exchanges = [(b"\x01\xfe\x80\x01" + bytes([i]) * (i * 37 % 300), b"answer %d" % i) for i in range(20)]
    wire, keys = _session(tmp_path, exchanges, client_options)
    assert looks_like_tls(wire[0][1]) and wire[0][0] is True
    decryptor = Tls12Decryptor(keys)
    out = {True: b"", False: b""}
    for from_client, data in wire:
        for cut in (1, 7, len(data)):  # records split anyhow across TCP segments
            out[from_client] += decryptor.feed(from_client, data[:cut])
            data = data[cut:]
    assert decryptor.problem == "" and decryptor.cipher_suite == "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"
    assert decryptor.encrypt_then_mac is encrypt_then_mac
    assert out[True] == b"".join(r for r, _ in exchanges) and out[False] == b"".join(a for _, a in exchanges)


def test_without_the_sessions_key_or_with_a_wrong_one_it_says_so(tmp_path):
    wire, keys = _session(tmp_path, [(b"request", b"answer")])
    for keyring, problem in (({}, "no key for this TLS session"),
                             ({random: bytes(48) for random in keys}, "bad record MAC")):
        decryptor = Tls12Decryptor(keyring)
        assert b"".join(decryptor.feed(c, d) for c, d in wire) == b""
        assert problem in decryptor.problem


def test_prf_sha256_matches_a_published_vector():
    # the TLS 1.2 PRF (SHA-256) test vector published with the IETF TLS working group's PRF tests
    secret = bytes.fromhex("9bbe436ba940f017b17652849a71db35")
    seed = bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c")
    out = prf_sha256(secret, b"test label", seed, 100)
    assert out.hex().startswith("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa0")
