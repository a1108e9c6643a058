"""[ocpp] config: off by default, bad values name their key; the reconnect back-off's figures."""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from controller.formats.cabinet.config import ConfigError, OcppConfig, parse_config
from controller.ocpp.link import backoff_delays, basic_auth, read_password, tls_context
from tests.test_config import GOOD

pytestmark = pytest.mark.timeout(30)
ROOT = Path(__file__).resolve().parents[2]


def _with(ocpp: str):
    return parse_config(GOOD + "\n[ocpp]\n" + ocpp)


def test_ocpp_is_off_without_a_url():
    assert parse_config(GOOD).ocpp.url == ""


@pytest.mark.parametrize("table,key,words", [
    ('url = "http://csms.example/ocpp"', "ocpp.url", "ws:// or wss://"),
    ('url = "wss://csms.example/ocpp"\npassword = "0123456789abcdef"', "ocpp.url", "profile 1"),
    ('url = "wss://csms.example/ocpp"\nsecurity_profile = 2', "ocpp.csms_root_file", "root certificate"),
    ('url = "ws://csms.example/ocpp"\nsecurity_profile = 4', "ocpp.security_profile", "1, 2 or 3"),
    ('url = "wss://csms.example/ocpp"\nsecurity_profile = 3\ncsms_root_file = "/r.pem"', "ocpp.client_cert_file",
     "certificate and key"),
    ('url = "ws://csms.example/ocpp"\npassword = "short"', "ocpp.password", "16 to 40"),
    ('url = "ws://csms.example/ocpp"\nstation_id = "a/b"', "ocpp.station_id", "must not contain"),
    ('url = "ws://csms.example/ocpp"\nmodel = "a-model-name-longer-than-20"', "ocpp.model", "at most 20"),
    ('url = "ws://csms.example/ocpp"\nmeter_interval_s = 0', "ocpp.meter_interval_s", "above 0"),
    ('url = "ws://x"\npassword = "0123456789abcdef"\npassword_file = "/p"', "ocpp.password_file", "either"),
])
def test_bad_values_name_the_key(table, key, words):
    with pytest.raises(ConfigError) as caught:
        _with(table)
    assert caught.value.key == key and words in caught.value.reason


def test_a_cabinet_name_unfit_for_a_station_id_needs_one():
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD.replace('name = "t"', 'name = "my cabinet"') + '\n[ocpp]\nurl = "ws://x"\n')
    assert caught.value.key == "ocpp.station_id"


def test_backoff_doubles_then_stays_with_a_random_part():
    cfg = OcppConfig(url="ws://x", retry_back_off_wait_minimum_s=2.0, retry_back_off_random_range_s=1.0,
                     retry_back_off_repeat_times=2)
    delays = backoff_delays(cfg, random.Random(5))
    waits = [next(delays) for _ in range(5)]
    for wait, base in zip(waits, (2.0, 4.0, 8.0, 8.0, 8.0)):
        assert base <= wait <= base + 1.0
    other = backoff_delays(cfg, random.Random(6))
    assert next(other) != waits[0]  # two stations do not come back in step


def test_basic_auth_is_the_station_id_and_password():
    assert basic_auth("CAB-1", "pw") == "Basic Q0FCLTE6cHc="


def test_password_file_and_root_file_errors_name_the_key(tmp_path):
    short = tmp_path / "pw"
    short.write_text("short\n")
    with pytest.raises(ConfigError, match="ocpp.password_file"):
        read_password(OcppConfig(url="ws://x", password_file=str(short)))
    good = tmp_path / "pw2"
    good.write_text("0123456789abcdef0123\n")
    assert read_password(OcppConfig(url="ws://x", password_file=str(good))) == "0123456789abcdef0123"
    with pytest.raises(ConfigError, match="ocpp.csms_root_file"):
        tls_context(OcppConfig(url="wss://x", security_profile=2, csms_root_file=str(tmp_path / "none.pem")))


def test_the_controller_refuses_a_missing_csms_root_in_one_line(tmp_path):
    cabinet = tmp_path / "cabinet.toml"
    cabinet.write_text(GOOD + '\n[ocpp]\nurl = "wss://127.0.0.1:1"\nsecurity_profile = 2\n'
                       f'csms_root_file = "{tmp_path / "missing.pem"}"\n')
    done = subprocess.run([sys.executable, "-m", "controller", "--config", str(cabinet)],
                          capture_output=True, text=True, cwd=ROOT, timeout=25)
    assert done.returncode == 2, done.stderr
    assert "ocpp.csms_root_file" in done.stderr and "Traceback" not in done.stderr


def test_the_certificates_live_beside_the_store_unless_configured(tmp_path):
    from controller.app import ControllerApp

    table = '\n[ocpp]\nurl = "ws://127.0.0.1:9"\npassword = "0123456789abcdef0123"\n'
    app = ControllerApp(parse_config(GOOD + f'\n[store]\npath = "{tmp_path / "store.db"}"\n' + table))
    app.build()
    assert app.ocpp.security.certificates.folder == tmp_path / "ocpp-certificates"
    chosen = tmp_path / "chosen"
    app = ControllerApp(parse_config(GOOD + table + f'certificate_dir = "{chosen}"\n'))
    app.build()
    assert app.ocpp.security.certificates.folder == chosen and chosen.is_dir()


def test_a_certificate_dir_that_cannot_be_used_stops_the_start_in_one_line(tmp_path):
    from controller.ocpp.certificates import CertificateStore

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        CertificateStore(OcppConfig(url="ws://x", certificate_dir=str(blocker / "certs")), "CAB-1")
    assert caught.value.key == "ocpp.certificate_dir" and "cannot use" in caught.value.reason


def test_without_a_certificate_dir_a_temporary_folder_exists_only_while_needed(tmp_path):
    import gc

    from controller.ocpp.certificates import CertificateStore

    idle = CertificateStore(OcppConfig(url="ws://x"), "CAB-1")
    assert not idle.folder.exists()  # profile 1, nothing asked: nothing on disk
    busy = CertificateStore(OcppConfig(url="ws://x"), "CAB-1")
    busy.make_csr("")
    folder = busy.folder
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    del busy
    gc.collect()
    assert not folder.exists()
