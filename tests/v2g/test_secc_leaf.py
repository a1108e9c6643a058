"""The SECC leaf in use (controller/v2g/secc_leaf.py): swapped in the listener's TLS context for the next
handshake, and SECC_CERTIFICATE_EXPIRING raised 30 days before it ends, cleared when a new one comes."""
from __future__ import annotations

import datetime
import time

import pytest

from controller.formats.events import FaultCleared, FaultRaised
from controller.ocpp.fault_events import FaultEvents
from controller.v2g.secc_leaf import SeccLeaf, SeccLeafExpiryWatch
from hil.pki.rig_pki import cpo_chain, rig_pki, write_secc_files

pytestmark = pytest.mark.timeout(30)


def _files(tmp_path, days: int):
    now = datetime.datetime.now(datetime.timezone.utc)
    sub1, sub2, leaf = cpo_chain(rig_pki().v2g_root, now=now, secc_days=days)
    return write_secc_files(tmp_path / f"leaf-{days}", leaf, [leaf.cert, sub2.cert, sub1.cert])


def test_a_leaf_within_30_days_raises_a_cabinet_wide_warning_once_and_a_new_leaf_clears_it(tmp_path):
    ending, fresh = _files(tmp_path, 10), _files(tmp_path, 60)
    events = []
    leaf = SeccLeaf(str(ending.chain), str(ending.key), None)
    watch = SeccLeafExpiryWatch(leaf, events.append)
    watch.check(0.0)
    watch.check(1.0)  # within the hour: not looked at again
    watch.look()  # looked at, still ending: no second raise
    assert [(type(e), e.connector, e.code, e.severity) for e in events] == [
        (FaultRaised, None, "SECC_CERTIFICATE_EXPIRING", "warning")]
    assert "ends in 9 days" in events[0].detail
    notify = FaultEvents().notify_event(events[0], time.time())  # the CSMS hears of it as of the station
    assert notify["eventData"][0]["component"] == {"name": "ChargingStation"}
    assert notify["eventData"][0]["techCode"] == "SECC_CERTIFICATE_EXPIRING"
    leaf.chain_file, leaf.key_file = str(fresh.chain), str(fresh.key)
    watch.look()
    assert [type(e) for e in events] == [FaultRaised, FaultCleared]


def test_a_leaf_with_more_than_30_days_left_raises_nothing(tmp_path):
    files = _files(tmp_path, 40)
    events = []
    SeccLeafExpiryWatch(SeccLeaf(str(files.chain), str(files.key), None), events.append).look()
    assert events == []


def _served_leaf(context, port_holder) -> bytes:
    """The DER of the leaf a TLS 1.2 client sees in a handshake with `context` on loopback."""
    import asyncio
    import ssl

    async def run() -> bytes:
        async def serve(reader, writer):
            writer.close()
        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=client), 5)
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            writer.close()
            return der
        finally:
            server.close()
            await server.wait_closed()
    return asyncio.run(run())


def test_replace_puts_the_new_leaf_in_the_next_handshake_of_the_same_context(tmp_path):
    from cryptography import x509
    from controller.v2g.secc_tls import secc_tls_context

    old, new = _files(tmp_path, 60), _files(tmp_path, 59)
    context = secc_tls_context(str(old.chain), str(old.key))
    leaf = SeccLeaf(str(old.chain), str(old.key), context)
    first = x509.load_der_x509_certificate(_served_leaf(context, None))
    assert first == leaf.certificate()
    combined = tmp_path / "secc.pem"  # as OCPP keeps it: chain then key in one 0600 file
    combined.write_bytes(new.chain.read_bytes() + new.key.read_bytes())
    assert leaf.replace(str(combined), str(combined))
    second = x509.load_der_x509_certificate(_served_leaf(context, None))
    assert second != first and second == leaf.certificate()
    assert not leaf.replace(str(old.chain), str(new.key))  # a key that is not the leaf's: refused, kept
    assert x509.load_der_x509_certificate(_served_leaf(context, None)) == second
