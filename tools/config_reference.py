"""Write docs/config-reference.md from the config dataclasses: every key, its type, default, unit and meaning.

    python -m tools.config_reference            # rewrite docs/config-reference.md
    python -m tools.config_reference --check    # exit 1 when the file differs from the code

Meaning is the trailing `# comment` on the field's line (the class docstring introduces each table); the
unit comes from the name's suffix (controller/formats/cabinet/rules.py UNITS). A new field is documented as soon as it
exists; one without a comment is listed as undocumented (tests/test_config_reference.py fails on it).
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import sys
import textwrap
import tokenize
import types
import typing
from pathlib import Path

from controller.formats.cabinet.config import CabinetConfig, CanChannelConfig
from controller.formats.cabinet.rules import unit_of

OUT = Path(__file__).resolve().parents[1] / "docs" / "config-reference.md"
UNDOCUMENTED = "(undocumented: add a trailing # comment to the field)"
# dict-typed keys whose entries are tables of a dataclass (converted in the owner's check())
DICT_TABLES = {(CabinetConfig, "can"): CanChannelConfig}
REGENERATE = "python -m tools.config_reference"


@dataclasses.dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    unit: str
    meaning: str


def field_comments(cls: type) -> dict[str, str]:
    """The comment of each field in the class body: trailing its line (a field spanning lines: its last line), or
    else on the line right above it."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    body = ast.parse(source).body[0]
    found = {}
    for node in body.body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            lines = source.splitlines()
            comment = comments.get(node.end_lineno or node.lineno) or comments.get(node.lineno)
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            if not comment and above.startswith("#"):  # a comment line right above the field, when none trails it
                comment = comments.get(node.lineno - 1)
            if comment:
                found[node.target.id] = comment
    return found


def type_name(hint: typing.Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return type_name(options[0]) + " (optional)"
    if origin is typing.Literal:
        return " \\| ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in typing.get_args(hint))
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return "array of tables" if dataclasses.is_dataclass(item) else f"list of {type_name(item)}s"
    if dataclasses.is_dataclass(hint):
        return "table"
    return {float: "number", int: "integer", bool: "boolean", str: "string", dict: "table"}.get(hint, str(hint))


def default_text(fld: dataclasses.Field) -> str:
    if fld.default is not dataclasses.MISSING:
        return _toml(fld.default)
    if fld.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        made = fld.default_factory()  # type: ignore[misc]
        return "(table)" if dataclasses.is_dataclass(made) else _toml(made)
    return "required"


def _toml(value: typing.Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{}" if not value else str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:.1f}"
    return f"{value:_}" if isinstance(value, int) and value >= 10_000 else str(value)


def tables(cls: type = CabinetConfig, key: str = "") -> list[tuple[str, type, list[Row]]]:
    """(table key, class, rows) for `cls` and every table below it, in field order."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    rows, below = [], []
    for fld in dataclasses.fields(cls):
        if not fld.init:
            continue
        hint = hints[fld.name]
        full = f"{key}.{fld.name}" if key else fld.name
        rows.append(Row(full, type_name(hint), default_text(fld), unit_of(fld.name) or "",
                        comments.get(fld.name, UNDOCUMENTED)))
        child = _table_class(hint)
        if (cls, fld.name) in DICT_TABLES:
            below += tables(DICT_TABLES[(cls, fld.name)], f"{full}.<name>")
        elif child is not None:
            suffix = "[]" if typing.get_origin(hint) is tuple else ""
            below += tables(child, full + suffix)
    return [(key, cls, rows), *below]


def _table_class(hint: typing.Any) -> type | None:
    for arg in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(arg):
            return arg
    return None


def render() -> str:
    out = [
        "# Cabinet configuration reference",
        "",
        f"Generated from the config dataclasses by `{REGENERATE}`; do not edit by hand",
        "(tests/test_config_reference.py fails when this file and the code differ).",
        "",
        "One TOML file describes a cabinet (`charger-controller --config FILE`; installed: `/etc/charger/cabinet.toml`,",
        "see [install.md](install.md)). `--set KEY=VALUE` overrides a key, e.g. `--set connectors[0].max_power_kw=50`.",
        "A bad value stops the start with one line naming the key and the reason (exit 2). Besides each table's own",
        "checks, every value obeys the rules of `controller/formats/cabinet/rules.py`: a number with a unit is finite and above 0",
        "(0 only where the default is 0, meaning off), counts are at least 1, paired thresholds are in order, and no",
        "connector promises more power, current or voltage than its module group can give.",
        "",
        "Units come from the key's suffix: " + ", ".join(
            f"`{s}` {u}" for s, u in (("_s", "s"), ("_v", "V"), ("_a", "A"), ("_a_per_s", "A/s"), ("_kw", "kW"),
                                     ("_w", "W"), ("_wh", "Wh"), ("_ohm", "Ω"), ("_c", "°C"), ("_pct", "%"),
                                     ("_days", "days"))) + ".",
    ]
    for key, cls, rows in tables():
        out += ["", f"## `{_heading(key)}`" if key else "## top level", ""]
        doc = inspect.getdoc(cls)
        if doc and not doc.startswith(f"{cls.__name__}("):
            out += [" ".join(doc.split()), ""]
        out += ["| key | type | default | unit | meaning |", "|---|---|---|---|---|"]
        for row in rows:
            name = row.key.rsplit(".", 1)[-1]
            out.append(f"| `{name}` | {row.type} | `{row.default}` | {row.unit} | {_cell(row.meaning)} |")
    return "\n".join(out) + "\n"


def _heading(key: str) -> str:
    """The TOML table header: `[[connectors]]` for an array of tables, `[connectors.meter]` inside one."""
    if key.endswith("[]"):
        return f"[[{key[:-2].replace('[]', '')}]]"
    return f"[{key.replace('[]', '')}]"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def undocumented() -> list[str]:
    return [row.key for _, _, rows in tables() for row in rows if row.meaning == UNDOCUMENTED]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.config_reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the code")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text() if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    missing = undocumented()
    print(f"wrote {args.out}" + (f"; {len(missing)} keys without a meaning: {', '.join(missing)}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
