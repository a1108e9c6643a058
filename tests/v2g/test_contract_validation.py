"""Contract validation (ISO 15118-2 PaymentDetailsReq): the rig PKI's contract and its broken variants
against the MO roots, each refusal with its ISO-2 code; where the roots come from."""
from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys

import pytest

from controller.formats.cabinet.config import V2gTlsConfig, load_config
from controller.formats.cabinet.loader import ConfigError
from controller.v2g.contract.mo_roots import combined, load_mo_roots
from controller.v2g.contract.validation import ContractValidator, normalized_emaid
from hil.pki.rig_pki import broken_contract, good_contract, rig_pki, write_root
from hil.setup import cabinet_path

pytestmark = pytest.mark.timeout(30)


def _check(contract, roots=None, emaid=None, **kw):
    roots = [rig_pki().mo_root.cert] if roots is None else roots
    validator = ContractValidator(lambda: roots, **kw)
    leaf, subs = contract.ders()
    return asyncio.run(validator.check(emaid or contract.emaid, leaf, subs))


def test_the_rig_contract_is_valid_and_its_leaf_returned():
    verdict = _check(good_contract())
    assert verdict.ok, verdict.reason
    assert verdict.leaf.public_key().public_numbers() == rig_pki().contract.cert.public_key().public_numbers()


@pytest.mark.parametrize("variant, code", [
    ("expired", "FAILED_CertificateExpired"),
    ("untrusted", "FAILED_CertChainError"),
    ("key-usage", "FAILED_CertChainError"),
])
def test_each_broken_contract_gets_its_code(variant, code):
    verdict = _check(broken_contract(variant))
    assert (verdict.code, verdict.leaf) == (code, None), verdict.reason


def test_no_mo_root_is_no_certificate_available():
    assert _check(good_contract(), roots=[]).code == "FAILED_NoCertificateAvailable"

    def unreadable():
        raise OSError("disk gone")
    validator = ContractValidator(unreadable)
    assert not validator.available()
    leaf, subs = good_contract().ders()
    assert asyncio.run(validator.check("X", leaf, subs)).code == "FAILED_NoCertificateAvailable"


def test_a_missing_sub_ca_breaks_the_path():
    contract = good_contract()
    leaf, subs = contract.ders()
    validator = ContractValidator(lambda: [rig_pki().mo_root.cert])
    assert asyncio.run(validator.check(contract.emaid, leaf, subs[:1])).code == "FAILED_CertChainError"


def test_a_sub_ca_outside_its_validity_is_expired():
    # ten years on: the leaf (2 years) and sub-CAs (4 years) have all ended
    later = lambda: datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5 * 365)  # noqa: E731
    assert _check(good_contract(), clock=later).code == "FAILED_CertificateExpired"


def test_garbage_instead_of_a_certificate_is_a_chain_error():
    validator = ContractValidator(lambda: [rig_pki().mo_root.cert])
    assert asyncio.run(validator.check("USCPIC0000001X", b"\x30\x03junk", [])).code == "FAILED_CertChainError"


def test_the_emaid_must_be_the_leafs_with_or_without_dashes():
    contract = good_contract()  # USCPIC0000001X
    assert _check(contract, emaid="US-CPI-C0000001-X").ok
    assert _check(contract, emaid="uscpic0000001x").ok
    wrong = _check(contract, emaid="USCPIC0000002X")
    assert wrong.code == "FAILED" and "USCPIC0000002X" in wrong.reason
    assert normalized_emaid("de-8aa-1a2b3c4d5-6") == "DE8AA1A2B3C4D56"


def test_mo_roots_from_a_file_and_a_second_source(tmp_path):
    path = write_root(tmp_path / "mo.pem", rig_pki().mo_root)
    roots = load_mo_roots(str(path))
    assert [r.subject for r in roots] == [rig_pki().mo_root.cert.subject]
    both = combined(lambda: roots, lambda: [rig_pki().v2g_root.cert])
    assert len(both()) == 2


def test_unusable_mo_roots_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="v2g.tls.mo_roots.*cannot read"):
        load_mo_roots(str(tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        load_mo_roots(str(tmp_path / "junk.pem"))
    (tmp_path / "leaf.pem").write_bytes(rig_pki().contract.cert_pem())
    with pytest.raises(ConfigError, match="is not a CA certificate"):
        load_mo_roots(str(tmp_path / "leaf.pem"))
    with pytest.raises(ConfigError, match="v2g.tls.mo_roots.*needs TLS"):
        V2gTlsConfig(mo_roots="mo.pem").check_leaf_source(csms_signs_leaf=False)
    V2gTlsConfig(mo_roots="mo.pem").check_leaf_source(csms_signs_leaf=True)  # the CSMS signs a leaf later


def test_mo_roots_and_a_key_log_without_a_leaf_file_need_a_csms_that_can_sign_one(tmp_path):
    """A station waiting for its first SECC leaf from the CSMS opens TLS without a restart when it comes: its
    MO roots and key log are then used at once. Without [ocpp] nothing can bring a leaf: one line, exit 2."""
    desk = cabinet_path("desk")
    for name in ("mo_roots", "key_log"):
        with pytest.raises(ConfigError, match=f"v2g.tls.{name}.*or \\[ocpp\\]"):
            load_config(desk, (f"v2g.tls.{name}={tmp_path / 'x.pem'}",))
        config = load_config(desk, (f"v2g.tls.{name}={tmp_path / 'x.pem'}", "ocpp.url=ws://127.0.0.1:9/ocpp"))
        assert getattr(config.v2g.tls, name) and not config.v2g.tls.cert_chain


def test_the_validator_loads_no_crypto_until_a_contract_is_checked():
    code = ("import sys, controller.v2g.contract.validation, controller.v2g.contract.mo_roots\n"
            "print(sorted(m for m in ('pyhanko_certvalidator', 'asn1crypto', 'aiohttp') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("content, reason", [(None, "cannot read"), (b"junk", "holds no PEM certificate")])
def test_an_unreadable_mo_roots_file_stops_the_controller_in_one_line(tmp_path, content, reason):
    from pathlib import Path
    from hil.pki.rig_pki import write_secc_files
    root = Path(__file__).resolve().parents[2]
    pki = rig_pki()
    files = write_secc_files(tmp_path / "secc", pki.secc, pki.secc_chain())
    roots = tmp_path / "mo.pem"
    if content is not None:
        roots.write_bytes(content)
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text((root / "hil/setups/desk/cabinet.toml").read_text()
                       + "\n[v2g]\nenabled = true\ntest_door_direct_tcp = true\nsdp_port = 0\n"
                       f'\n[v2g.tls]\ncert_chain = "{files.chain}"\nkey = "{files.key}"\nmo_roots = "{roots}"\n')
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(cabinet)],
                          capture_output=True, text=True, timeout=30, cwd=root)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "'v2g.tls.mo_roots'" in lines[0] and reason in lines[0]


def test_a_leaf_that_signs_another_certificate_or_a_path_too_long_breaks_the_chain():
    from hil.pki.profiles import Role, issue
    from hil.pki.rig_pki import Contract
    pki = rig_pki()
    now = pki.contract.cert.not_valid_before_utc
    # basic constraints: the contract leaf (CA false) as the issuer of another contract
    under_leaf = issue(Role.CONTRACT_LEAF, pki.emaid, "MO", issuer=pki.contract, days=30, not_before=now)
    assert _check(Contract(under_leaf, (pki.contract.cert, pki.mo_sub2.cert, pki.mo_sub1.cert))).code \
        == "FAILED_CertChainError"
    # path length: MO sub-CA 2 (path length 0) may sign leaves only, not a third sub-CA
    third = issue(Role.SUB_CA_2, "MOSubCA3", "MO", issuer=pki.mo_sub2, days=30, not_before=now)
    below = issue(Role.CONTRACT_LEAF, pki.emaid, "MO", issuer=third, days=30, not_before=now)
    verdict = _check(Contract(below, (third.cert, pki.mo_sub2.cert, pki.mo_sub1.cert)))
    assert verdict.code == "FAILED_CertChainError", verdict.reason


def test_the_controller_reads_the_file_roots_and_the_ocpp_installed_ones_at_each_check(tmp_path):
    from controller.app import ControllerApp
    from controller.formats.cabinet.config import parse_config
    from hil.pki.profiles import Role, issue
    from hil.pki.rig_pki import write_secc_files
    from tests.test_config import GOOD
    pki = rig_pki()
    files = write_secc_files(tmp_path / "secc", pki.secc, pki.secc_chain())
    roots = write_root(tmp_path / "mo.pem", pki.mo_root)
    app = ControllerApp(parse_config(
        GOOD + f'\n[v2g.tls]\ncert_chain = "{files.chain}"\nkey = "{files.key}"\nmo_roots = "{roots}"\n'
        + '\n[ocpp]\nurl = "ws://127.0.0.1:9"\npassword = "0123456789abcdef0123"\n'
        + f'certificate_dir = "{tmp_path / "certs"}"\n'))
    app.build()
    validator = app._contract_validator()
    assert [r.subject for r in validator.mo_roots()] == [pki.mo_root.cert.subject]
    other = issue(Role.ROOT, "OtherMORoot", "MO", issuer=None, days=365, not_before=pki.mo_root.cert.not_valid_before_utc)
    app.ocpp.security.certificates.install_root("MORootCertificate", other.cert_pem().decode())  # OCPP block M
    assert [r.subject for r in validator.mo_roots()] == [pki.mo_root.cert.subject, other.cert.subject]


def test_without_a_root_central_validation_leaves_the_chain_to_the_csms():
    """CentralContractValidationAllowed and online: no MO root is no refusal; the leaf's own checks still
    apply (validity, eMAID) and the verdict says the chain was not validated here."""
    verdict = _check(good_contract(), roots=[], central=lambda: True)
    assert (verdict.code, verdict.central) == ("OK", True) and verdict.leaf is not None
    assert ContractValidator(lambda: [], central=lambda: True).available()
    assert not ContractValidator(lambda: [], central=lambda: False).available()
    assert _check(broken_contract("expired"), roots=[], central=lambda: True).code == "FAILED_CertificateExpired"
    assert _check(good_contract(), roots=[], central=lambda: True, emaid="DE8AA1A2B3C4D56").code == "FAILED"
    assert _check(good_contract(), central=lambda: True).central is False  # a root here: validated here
