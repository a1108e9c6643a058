"""A profile-2 link never loads cryptography (about 8 MB of RSS against the 60 MB budget, make bench): the CSMS
roots are copied in, counted and trusted with ssl alone; only the CSMS's certificate requests load it."""
import subprocess
import sys

import pytest

from controller.formats.cabinet.config import ConfigError, OcppConfig
from controller.ocpp.certificates import CertificateStore, _fingerprint
from hil.csms.test_ca import make_test_ca

pytestmark = pytest.mark.timeout(60)

PROFILE_2 = """
import sys
from controller.formats.cabinet.config import OcppConfig
from controller.ocpp.security import StationSecurity
cfg = OcppConfig(url="wss://127.0.0.1:1", security_profile=2, csms_root_file=sys.argv[1], certificate_dir=sys.argv[2])
security = StationSecurity(cfg, "CAB-1", None, lambda: None)
assert security.missing_for(2) is None
security.tls_context(2)
security.link_up(2)
print("cryptography" in sys.modules)
"""


def test_a_profile_2_start_and_link_do_not_import_cryptography(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    done = subprocess.run([sys.executable, "-c", PROFILE_2, str(ca.root_file), str(tmp_path / "certs")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_root_copied_without_cryptography_is_the_one_cryptography_reads(tmp_path):
    ca = make_test_ca(tmp_path / "ca")
    cfg = OcppConfig(url="wss://x", security_profile=2, csms_root_file=str(ca.root_file),
                     certificate_dir=str(tmp_path / "certs"))
    store = CertificateStore(cfg, "CAB-1")
    [root] = store.roots("CSMSRootCertificate")
    assert root.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["x"])
                             .Encoding.PEM) == ca.root_file.read_bytes()
    assert (tmp_path / "certs" / "roots" / "CSMSRootCertificate" / f"{_fingerprint(root)}.pem").exists()
    assert store.tls_context(2).get_ca_certs()[0]["subject"][1][0] == ("commonName", "rig CSMS root")


@pytest.mark.parametrize("content", [b"not a certificate at all",
                                     b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_a_csms_root_file_without_a_certificate_stops_the_start_naming_the_key(tmp_path, content):
    bad = tmp_path / "root.pem"
    bad.write_bytes(content)
    cfg = OcppConfig(url="wss://x", security_profile=2, csms_root_file=str(bad), certificate_dir=str(tmp_path / "c"))
    with pytest.raises(ConfigError, match="csms_root_file"):
        CertificateStore(cfg, "CAB-1")
