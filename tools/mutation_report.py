"""Mutation testing of the safety core: run mutmut, then print killed / survived per file.

`make mutate` calls this. mutmut (3.x) copies the sources into `mutants/`, runs the tests once to learn which
tests reach which function, then runs only those tests against each mutant. Its verdicts sit in
`mutants/<file>.meta` (JSON, exit code per mutant); this tool reads them, so the figures are mutmut's own.

A survivor that only changes the text of a log call (`log.info("...")` -> `log.info(None)`, or an argument on a
continuation line of one) changes nothing on a wire; it is counted apart, as `log-only`, so the figure that
matters (survivors that change behaviour) is not buried under them.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher, unified_diff
from pathlib import Path

LOGGERS = ("log", "logger", "_log")
LOG_LEVELS = ("debug", "info", "warning", "error", "exception", "critical")


@dataclass
class FileFigures:
    killed: int = 0
    survived: int = 0
    survived_log_only: int = 0
    timeout: int = 0
    no_tests: int = 0
    other: int = 0   # not checked, skipped, suspicious, segfault
    survivors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        caught = self.killed + self.timeout
        judged = caught + self.survived
        return caught / judged if judged else 0.0


def file_of(meta: Path, mutants_dir: Path) -> str:
    return str(meta.relative_to(mutants_dir))[: -len(".meta")]


def tally(meta_files: Iterable[Path], mutants_dir: Path, status_of, log_only) -> dict[str, FileFigures]:
    """Figures per source file; `status_of(exit_code)` is mutmut's own verdict name for a mutant's exit code,
    `log_only(source_path, mutant_name)` whether the mutant changes nothing but log calls."""
    figures: dict[str, FileFigures] = {}
    for meta in sorted(meta_files):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        source_path = file_of(meta, mutants_dir)
        row = figures.setdefault(source_path, FileFigures())
        for name, code in sorted(codes.items()):
            status = status_of(code)
            if status == "survived":
                if log_only(source_path, name):
                    row.survived_log_only += 1
                else:
                    row.survived += 1
                    row.survivors.append(name)
            elif status in ("killed", "timeout"):
                setattr(row, status, getattr(row, status) + 1)
            elif status == "no tests":
                row.no_tests += 1
            else:
                row.other += 1
    return figures


def _log_call_lines(code: str) -> set[int]:
    """The 0-based lines of `code` that belong to a statement which is only a log call."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in LOG_LEVELS \
                and isinstance(call.func.value, ast.Name) and call.func.value.id in LOGGERS:
            lines.update(range(node.lineno - 1, node.end_lineno))
    return lines


def only_log_calls_differ(original: str, mutant: str) -> bool:
    """Whether every line that differs between the two versions of a function lies inside a log-call statement
    of its own version (a changed message, level argument or continuation line); False when nothing differs."""
    old, new = original.splitlines(), mutant.splitlines()
    old_logs, new_logs = _log_call_lines(original), _log_call_lines(mutant)
    changed = False
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        changed = True
        # a pure insertion or deletion counts where it lands: between two lines of one log call
        old_lines = range(i1, i2) if i2 > i1 else (i1 - 1, i1)
        new_lines = range(j1, j2) if j2 > j1 else (j1 - 1, j1)
        if not (set(old_lines) <= old_logs and set(new_lines) <= new_logs):
            return False
    return changed


class MutantDiffs:
    """The diff of each mutant against its original function, as `mutmut show` prints it, but with each
    mutated file parsed once (`mutmut show` starts a process and parses the file again per mutant: about a
    second each, most of an hour for 1,600 survivors)."""

    def __init__(self, mutants_dir: Path) -> None:
        self._mutants_dir = mutants_dir
        self._modules: dict[str, object] = {}

    def __call__(self, source_path: str, name: str) -> str:
        original, mutant = (code.split("\n") for code in self.versions(source_path, name))
        return "\n".join(unified_diff(original, mutant, fromfile=source_path, tofile=source_path, lineterm=""))

    def log_only(self, source_path: str, name: str) -> bool:
        return only_log_calls_differ(*self.versions(source_path, name))

    def versions(self, source_path: str, name: str) -> tuple[str, str]:
        """The original function and the mutant's, as source text."""
        import libcst as cst
        from mutmut.mutation.diff_apply import read_mutant_function, read_original_function
        module = self._modules.get(source_path)
        if module is None:
            module = self._modules[source_path] = cst.parse_module(
                (self._mutants_dir / source_path).read_text())
        functions = (read_original_function(module, name), read_mutant_function(module, name))
        original, mutant = (cst.Module([function]).code.strip() for function in functions)
        return original, mutant


def print_table(figures: dict[str, FileFigures], out=sys.stdout) -> None:
    columns = ("killed", "timeout", "survived", "survived_log_only", "no_tests", "other")
    print(f"{'file':50}" + "".join(f"{c.replace('survived_', ''):>10}" for c in columns) + f"{'score':>7}",
          file=out)
    total = FileFigures()
    for path, row in [*figures.items(), ("all", total)]:
        if row is not total:
            for c in columns:
                setattr(total, c, getattr(total, c) + getattr(row, c))
        print(f"{path:50}" + "".join(f"{getattr(row, c):10}" for c in columns) + f"{row.score:7.0%}", file=out)


def main(argv: list[str] | None = None) -> int:
    from controller.formats.command_line import OneLineArgumentParser
    parser = OneLineArgumentParser(prog="python -m tools.mutation_report", description=__doc__.splitlines()[0])
    parser.add_argument("--mutmut", default=str(Path(sys.executable).with_name("mutmut")),
                        help="the mutmut program (default: beside this Python)")
    parser.add_argument("--no-run", action="store_true", help="only report the verdicts already in mutants/")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--save", type=Path, default=Path("bench/mutation.json"), help="JSON figures file")
    args = parser.parse_args(argv)
    if not Path(args.mutmut).exists():
        parser.error(f"no mutmut at {args.mutmut}: install the test extra (pip install -e '.[test]')")
    if not args.no_run:
        done = subprocess.run([args.mutmut, "run", "--max-children", str(args.max_children)], check=False)
        if done.returncode != 0:
            print(f"mutate: mutmut run failed with exit status {done.returncode}", file=sys.stderr)
            return 1
    mutants_dir = Path("mutants")
    metas = list(mutants_dir.rglob("*.meta"))
    if not metas:
        print("mutate: no verdicts in mutants/ (did mutmut run?)", file=sys.stderr)
        return 1
    from mutmut.stats import status_by_exit_code  # mutmut's own verdict names
    figures = tally(metas, mutants_dir, status_by_exit_code.__getitem__, MutantDiffs(mutants_dir).log_only)
    print_table(figures)
    args.save.parent.mkdir(parents=True, exist_ok=True)
    args.save.write_text(json.dumps({path: {**asdict(row), "score": row.score}
                                     for path, row in figures.items()}, indent=1) + "\n")
    print(f"saved {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
