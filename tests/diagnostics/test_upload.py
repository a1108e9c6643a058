"""The HTTP upload of an archive (controller/diagnostics/upload.py) against the rig's upload server."""
from __future__ import annotations

import base64
import socket

import pytest

from controller.diagnostics.upload import target_url, upload
from hil.csms.upload_server import UploadServer

pytestmark = pytest.mark.timeout(30)


def test_a_folder_location_gets_the_file_name_and_a_file_location_is_kept():
    assert target_url("http://h/logs/", "ST 1.tar.gz") == "http://h/logs/ST%201.tar.gz"
    assert target_url("http://h/put-here", "x.tar.gz") == "http://h/put-here"


def test_credentials_in_the_url_go_as_basic_auth(tmp_path):
    server = UploadServer(tmp_path)
    base = server.start()
    try:
        url = base.replace("http://", "http://op%40csms:s3cret@") + "a.tar.gz"
        result = upload(url, b"archive bytes", timeout_s=5)
    finally:
        server.stop()
    assert result.ok and result.status == 201
    (got,) = server.uploads
    assert got.method == "PUT" and got.path == "/logs/a.tar.gz" and got.saved.read_bytes() == b"archive bytes"
    assert got.authorization == "Basic " + base64.b64encode(b"op@csms:s3cret").decode()


def test_nothing_listening_and_a_non_http_url_fail_without_an_http_status():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = upload(f"http://127.0.0.1:{port}/x", b"x", timeout_s=5)
    assert not refused.ok and refused.status is None and "PUT" in refused.detail
    assert upload("ftp://127.0.0.1/x", b"x").status is None
