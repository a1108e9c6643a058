"""`secc-certificate` in the rig: the CSMS renews the SECC leaf over OCPP before the car plugs in, and the car's
TLS handshake shows the new leaf (the listener took it without a restart); the car charges (issue #17).
`secc-certificate-first`: the station starts with no leaf at all; the first one signed opens its TLS port."""
from __future__ import annotations

import asyncio

import pytest

from hil.pki.rig_pki import rig_pki
from hil.runner import run_scenario
from hil.setup import load_setup

pytestmark = [pytest.mark.rig, pytest.mark.timeout(120)]


def test_the_renewed_secc_leaf_is_the_one_the_car_sees():
    report, problems = asyncio.run(run_scenario("secc-certificate", load_setup("desk"), protocol="iso2"))
    assert not problems, (problems, report)
    renewal = report["ocpp"]["secc_certificate"]
    assert renewal["statuses"] == {"InstallCertificate": "Accepted", "TriggerMessage": "Accepted",
                                   "CertificateSigned": "Accepted"}
    seen = report["v2g"]["tls_leaf"][1]
    assert seen.lstrip("0") == renewal["serial"].lstrip("0")
    assert int(seen, 16) != rig_pki().secc.cert.serial_number  # not the leaf the station started with
    assert report["connectors"][0]["car"]["reason"] == "target_soc" and report["connectors"][0]["energy_kwh"] > 0


def test_a_station_without_any_leaf_charges_over_tls_once_the_csms_signed_its_first():
    report, problems = asyncio.run(run_scenario("secc-certificate-first", load_setup("desk"), protocol="iso2"))
    assert not problems, (problems, report)
    first = report["ocpp"]["secc_certificate"]
    assert first["statuses"] == {"InstallCertificate": "Accepted", "CertificateSigned": "Accepted"}
    assert report["v2g"]["tls"][1].startswith("TLSv1.2 ")  # before this change: plain TCP until a restart
    assert report["v2g"]["tls_leaf"][1].lstrip("0") == first["serial"].lstrip("0")
    assert report["connectors"][0]["car"]["reason"] == "target_soc" and report["connectors"][0]["energy_kwh"] > 0
