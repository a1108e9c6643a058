"""docs/config-reference.md is generated from the config dataclasses and must match them."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tools import config_reference
from tools.config_reference import REGENERATE, UNDOCUMENTED, render, tables, undocumented

pytestmark = pytest.mark.timeout(60)


def test_the_committed_reference_matches_the_code():
    committed = config_reference.OUT.read_text()
    assert committed == render(), f"docs/config-reference.md is out of date: run `{REGENERATE}` and commit it"


def test_every_key_has_a_meaning():
    assert undocumented() == [], "add a trailing # comment to these fields, then run " + REGENERATE


@dataclass(frozen=True)
class _Inner:
    """A nested table."""
    grace_s: float = 2.0  # how long it may wait


@dataclass(frozen=True)
class _NewConfig:
    limit_kw: float = 50.0  # the most it may draw
    mode: str = "fast"
    inner: _Inner = field(default_factory=_Inner)  # see below
    items: tuple[_Inner, ...] = ()


def test_a_new_field_is_picked_up_with_type_default_unit_and_meaning():
    found = {row.key: row for _, _, rows in tables(_NewConfig, "new") for row in rows}
    assert found["new.limit_kw"] == config_reference.Row("new.limit_kw", "number", "50.0", "kW", "the most it may draw")
    assert found["new.mode"].meaning == UNDOCUMENTED and found["new.mode"].default == '"fast"'
    assert found["new.inner.grace_s"].unit == "s" and found["new.inner.grace_s"].meaning == "how long it may wait"
    assert found["new.items[].grace_s"].default == "2.0"
    assert found["new.items"].type == "array of tables"


def test_check_mode_says_how_to_regenerate(tmp_path, capsys):
    stale = tmp_path / "config-reference.md"
    stale.write_text("old\n")
    assert config_reference.main(["--check", "--out", str(stale)]) == 1
    assert REGENERATE in capsys.readouterr().err
    config_reference.main(["--out", str(stale)])
    assert config_reference.main(["--check", "--out", str(stale)]) == 0
