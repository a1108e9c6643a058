"""The runner reads libFuzzer's output: executions, coverage, RSS, and why a run stopped."""
from __future__ import annotations

import pytest

from tools.fuzz.__main__ import main
from tools.fuzz.runner import RunReport, read_output

pytestmark = pytest.mark.timeout(10)

CRASHED = """\
#2	INITED cov: 287 ft: 434 corp: 4/3510b exec/s: 0 rss: 65Mb
#8	NEW    cov: 290 ft: 440 corp: 5/3600b lim: 8192 exec/s: 0 rss: 65Mb L: 90/2000 MS: 1 ChangeByte-

 === Uncaught Python exception: ===
UnicodeDecodeError: 'utf-8' codec can't decode byte 0xcd in position 24: invalid continuation byte
Traceback (most recent call last):
==1234== ERROR: libFuzzer: fuzz target exited
stat::number_of_executed_units: 9
stat::peak_rss_mb:              66
"""

HUNG = """\
#5000	pulse  cov: 30 ft: 98 corp: 20/400b lim: 4096 exec/s: 2500 rss: 62Mb
==99== ERROR: libFuzzer: timeout after 10 seconds
"""


def test_a_crash_gives_its_exception_and_the_last_figures():
    report = RunReport("config", 5)
    read_output(CRASHED, report)
    assert (report.executions, report.coverage, report.features, report.corpus) == (9, 290, 440, 5)
    assert report.peak_rss_mb == 66
    assert report.errors == ["UnicodeDecodeError: 'utf-8' codec can't decode byte 0xcd in position 24: "
                             "invalid continuation byte"]


def test_a_hang_is_reported_as_a_timeout():
    report = RunReport("v2gtp", 5)
    read_output(HUNG, report)
    assert report.executions == 5000 and report.errors == ["timeout after 10 seconds"]


def test_bad_arguments_exit_2(capsys):
    assert main(["no-such-target"]) == 2
    assert main(["--seconds", "0"]) == 2
    assert "unknown target" in capsys.readouterr().err
