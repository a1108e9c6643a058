import random
import types

import pytest

from tools import exi_fuzz

pytestmark = pytest.mark.timeout(60)


class FakeExiError(ValueError):
    pass


def fake_codec(decode):
    return types.SimpleNamespace(ExiError=FakeExiError, SCHEMAS=("appproto", "din", "iso2"), decode=decode,
                                 encode=lambda schema, message: message)


def test_mutations_are_deterministic_and_bounded():
    seeds = [("din", bytes(range(40))), ("appproto", b"\x80\x40\x00\x40")]
    first = [exi_fuzz.MUTATIONS[name](random.Random(7), seeds[0][1], seeds)
             for name in sorted(exi_fuzz.MUTATIONS)]
    again = [exi_fuzz.MUTATIONS[name](random.Random(7), seeds[0][1], seeds)
             for name in sorted(exi_fuzz.MUTATIONS)]
    assert first == again
    assert all(len(data) <= exi_fuzz.MAX_OVERSIZED + 4096 + 40 for data in first)


def test_exi_errors_are_counted_not_reported(monkeypatch):
    def decode(schema, data):
        if len(data) % 2:
            raise FakeExiError("odd")
        return data

    monkeypatch.setattr(exi_fuzz, "exi", fake_codec(decode))
    report = exi_fuzz.fuzz([("din", bytes(10))], seconds=0.2, seed=1)
    assert report.findings == []
    assert report.inputs == report.outcomes["decode_ok"] + report.outcomes["decode_exi_error"]
    assert report.outcomes["encode_ok"] == report.outcomes["decode_ok"] > 0


def test_other_exceptions_and_hangs_are_findings_with_the_input(monkeypatch):
    def decode(schema, data):
        if data[:1] == b"\x00":
            raise IndexError("boom")
        while True:
            pass

    monkeypatch.setattr(exi_fuzz, "exi", fake_codec(decode))
    monkeypatch.setitem(exi_fuzz.MUTATIONS, "bitflip", lambda rng, data, seeds: b"\x01" + data)
    for name in [name for name in exi_fuzz.MUTATIONS if name != "bitflip"]:
        monkeypatch.setitem(exi_fuzz.MUTATIONS, name, lambda rng, data, seeds: b"\x00" + data)
    report = exi_fuzz.fuzz([("din", b"\xaa")], seconds=0.3, seed=3, cap=0.05)
    kinds = {finding.kind for finding in report.findings}
    assert kinds == {"exception", "hang"}
    crash = next(finding for finding in report.findings if finding.kind == "exception")
    assert crash.detail == "IndexError: boom" and crash.to_json()["hex"] == "00aa"
    hang = next(finding for finding in report.findings if finding.kind == "hang")
    assert hang.data == b"\x01\xaa"


def test_an_encoding_that_decodes_differently_is_a_finding(monkeypatch):
    codec = fake_codec(lambda schema, data: data)
    codec.encode = lambda schema, message: message + b"!"
    monkeypatch.setattr(exi_fuzz, "exi", codec)
    report = exi_fuzz.fuzz([("din", b"\x80")], seconds=0.1, seed=5)
    assert report.findings and {finding.kind for finding in report.findings} == {"mismatch"}
    assert report.outcomes["redecode_mismatch"] == len(report.findings)
