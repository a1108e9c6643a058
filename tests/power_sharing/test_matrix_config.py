"""The cabinet file's [power.matrix]: the nevi-shared setup loads, the static layout is unchanged, and every
mistake in a matrix declaration is one clear error naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.formats.cabinet.config import ConfigError, load_config, parse_config
from controller.formats.cabinet.power_matrix import groups_reaching

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "hil/setups/nevi-shared/cabinet.toml"
NEVI = ROOT / "hil/setups/nevi/cabinet.toml"


def test_nevi_shared_declares_eight_groups_of_three_on_a_matrix_to_four_outputs():
    cfg = load_config(SHARED)
    assert [len(g.addresses) for g in cfg.power.groups] == [3] * 8
    assert cfg.max_cabinet_power_kw == 600
    assert all(link.outputs == (1, 2, 3, 4) for link in cfg.power.matrix.links)
    assert groups_reaching(cfg, 3) == [f"G{i}" for i in range(1, 9)]
    static = load_config(NEVI)
    # cable limits per connector as today
    assert [(c.max_current_a, c.max_voltage_v) for c in cfg.connectors] == \
        [(c.max_current_a, c.max_voltage_v) for c in static.connectors]


def test_the_static_layout_stays_the_default():
    cfg = load_config(NEVI)
    assert cfg.power.matrix is None and groups_reaching(cfg, 2) == ["P2"]


def _shared_with(old: str, new: str) -> str:
    text = SHARED.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, key, reason", [
    ('max_power_kw = 350\n', 'max_power_kw = 350\ngroup = "G1"\n', "connectors[0].group", "leave it out"),
    ('{ group = "G2", outputs = [1, 2, 3, 4] }', '{ group = "G2", outputs = [1, 5] }',
     "power.matrix.links[1].outputs", "no connector with id 5"),
    ('{ group = "G2", outputs = [1, 2, 3, 4] }', '{ group = "G2", outputs = [] }',
     "power.matrix.links[1].outputs", "reaches no output"),
    ('{ group = "G2", outputs = [1, 2, 3, 4] }', '{ group = "G2", outputs = [1, 1] }',
     "power.matrix.links[1].outputs", "listed twice"),
    ('  { group = "G8", outputs = [1, 2, 3, 4] },\n', '', "power.matrix.links", "group 'G8' has no link"),
    ('max_cabinet_power_kw = 600', 'max_cabinet_power_kw = 0', "max_cabinet_power_kw", "needs its site limit"),
    ('max_cabinet_power_kw = 600', 'max_cabinet_power_kw = 300', "connectors[0].max_power_kw",
     "above the cabinet's 300 kW"),
    ('[power.matrix]\ncan = "io"', '[power.matrix]\ncan = "nope"', "power.matrix.can", "no [can.nope] channel"),
])
def test_a_bad_matrix_declaration_names_the_key(old, new, key, reason):
    with pytest.raises(ConfigError) as info:
        parse_config(_shared_with(old, new))
    assert info.value.key == key and reason in info.value.reason


def test_an_output_no_group_reaches_is_an_error():
    text = SHARED.read_text()
    for g in range(1, 9):
        text = text.replace(f'{{ group = "G{g}", outputs = [1, 2, 3, 4] }}', f'{{ group = "G{g}", outputs = [1, 2, 3] }}')
    with pytest.raises(ConfigError, match="no group reaches connector 4"):
        parse_config(text)


def test_a_port_may_not_promise_more_than_the_groups_that_reach_it():
    text = SHARED.read_text()
    for g in range(2, 9):
        text = text.replace(f'{{ group = "G{g}", outputs = [1, 2, 3, 4] }}', f'{{ group = "G{g}", outputs = [2, 3, 4] }}')
    with pytest.raises(ConfigError) as info:  # only G1 (3 x 30 kW) reaches connector 1, which promises 350 kW
        parse_config(text)
    assert info.value.key == "connectors[0].max_power_kw" and "group 'G1': 3 uugreen modules" in info.value.reason


def test_without_a_matrix_a_connector_still_needs_its_group():
    text = NEVI.read_text().replace('group = "P1"\n', "", 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.key == "connectors[0].group" and "without a [power.matrix]" in info.value.reason


def test_the_controller_refuses_a_matrix_cabinet_whose_modules_report_their_rating_at_run_time_with_one_line(tmp_path):
    import subprocess
    import sys
    from controller.hw.power.registry import VENDORS
    runtime = next(v for v in VENDORS if VENDORS[v](0).fixed_rating is None)
    run = subprocess.run([sys.executable, "-m", "controller", "--config", str(SHARED), "--set",
                          f'power.vendor="{runtime}"'], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "power.vendor" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
