"""Writes one straight-line decode function per complex type.

The function reads the event code of the current grammar state, then walks the type's fields in schema
order: `if ev == K:` (or `while` for lists) decodes field K and reads the next event code. Where the state
after a field is the same on every path (always, in flat sequences) the read uses constants; otherwise the
state number `s` comes from a table. A field met out of that order, an escape code (second-level events)
or wildcard/mixed content ends in the final check `ev != END`.
"""

from __future__ import annotations

from tools.exi_schema.code_writer import Writer
from tools.exi_schema.codec_plan import CodecPlan, field_identifier
from tools.exi_schema.grammar import ANY, EE, MIXED_CH, Field, Label, State, TypeGrammar
from tools.exi_schema.value_types import ValueSpec
from tools.exi_schema.xsd_model import UNBOUNDED, SchemaError

END, ESCAPE, UNSUPPORTED = -1, -2, -3


class DecoderEmitter:
    def __init__(self, plan: CodecPlan, tables: list[str]) -> None:
        self.plan = plan
        self.tables = tables  # module-level constant lines, shared with the encoder emitter

    def emit(self, grammar: TypeGrammar, out: Writer) -> None:
        self.g = grammar
        self.cls = self.plan.class_of(grammar.ctype)
        self.index = {f.label: i for i, f in enumerate(grammar.fields)}
        self.targets = _targets_by_label(grammar)
        self.dynamic_tables_done = False
        names = tuple(f.name for f in grammar.fields)
        self.tables.append(f"_F_{self.cls} = {names!r}")
        with out.block(f"def _d_{self.cls}(v: int, r: int) -> tuple[_m.{self.cls}, int]:"):
            out.line('at = ""')
            with out.block("try:"):
                for i, f in enumerate(grammar.fields):
                    if f.is_list:
                        out.line(f"f{i} = []")
                    elif f.min == 0:
                        out.line(f"f{i} = None")
                self._read(out, frozenset({0}))
                for i, f in enumerate(grammar.fields):
                    self._field(out, i, f)
                out.line('at = ""')
                out.line(f"if ev != -1: raise _unexpected(ev, _F_{self.cls})")
                out.line(f"o = _new(_m.{self.cls})")
                for i, f in enumerate(grammar.fields):
                    out.line(f"o.{field_identifier(f.name)} = f{i}")
                out.line("return o, r")
            with out.block("except Exception as e:"):
                out.line("raise _fail(e, at, r) from None")
        out.line("")

    # ----- event codes -----

    def _read(self, out: Writer, states: frozenset[int]) -> None:
        if len(states) == 1:
            (state_id,) = states
            self._read_static(out, self.g.states[state_id])
        else:
            self._dynamic_tables()
            out.line(f"b = _NB_{self.cls}[s]")
            out.line("r -= b")
            out.line(f"ev, s = _TT_{self.cls}[s][(v >> r) & ((1 << b) - 1)]")

    def _read_static(self, out: Writer, state: State) -> None:
        with_state = any(label[0] != EE and len(self.targets[label]) > 1 for label, _ in state.productions)
        row = self._row(state, with_state)
        if state.bits == 0:
            out.line(f"ev, s = {row[0]!r}" if with_state else f"ev = {row[0]!r}")
            return
        name = f"_{'EVS' if with_state else 'EV'}_{self.cls}_{state.id}"
        self.tables.append(f"{name} = {tuple(row)!r}")
        out.line(f"r -= {state.bits}")
        out.line(f"{'ev, s' if with_state else 'ev'} = {name}[(v >> r) & {(1 << state.bits) - 1}]")

    def _row(self, state: State, with_state: bool) -> list:
        row: list = []
        for label, target in state.productions:
            event = self._event(label)
            row.append((event, -1 if target is None else target) if with_state else event)
        padding = (ESCAPE, -1) if with_state else ESCAPE
        return row + [padding] * ((1 << state.bits) - len(row))

    def _event(self, label: Label) -> int:
        if label[0] == EE:
            return END
        if label[0] in (ANY, MIXED_CH):
            return UNSUPPORTED
        return self.index[label]

    def _dynamic_tables(self) -> None:
        if self.dynamic_tables_done:
            return
        self.dynamic_tables_done = True
        bits = tuple(s.bits for s in self.g.states)
        rows = tuple(tuple(self._row(s, True)) for s in self.g.states)
        self.tables.append(f"_NB_{self.cls} = {bits!r}")
        self.tables.append(f"_TT_{self.cls} = {rows!r}")

    # ----- fields -----

    def _field(self, out: Writer, i: int, f: Field) -> None:
        out.line(f"at = {f.name!r}")
        targets = self.targets.get(f.label, frozenset())
        with out.block(f"{'while' if f.is_list else 'if'} ev == {i}:"):
            var = "x" if f.is_list else f"f{i}"
            self._value(out, f, var)
            if f.is_list:
                out.line(f"f{i}.append(x)")
            if not targets:
                return
            full = self.g.full_variant.get(next(iter(targets))) if len(targets) == 1 else None
            if f.is_list and f.max != UNBOUNDED and full is None:
                raise SchemaError(f"{self.cls}.{f.name}: bounded list whose loop state is not unique")
            if f.is_list and full is not None:
                with out.block(f"if len(f{i}) < {f.max}:"):
                    self._read(out, targets)
                with out.block("else:"):
                    self._read(out, frozenset({full}))
            else:
                self._read(out, targets)

    def _value(self, out: Writer, f: Field, var: str) -> None:
        if f.complex_type is not None:
            out.line(f"{var}, r = _d_{self.plan.class_of(f.complex_type)}(v, r)")
            return
        spec = f.value
        assert spec is not None
        wrapped = f.kind == "element"  # an element's simple content: CH code before, EE code after
        if wrapped and spec.kind in ("bool", "nbit", "enum"):
            width = 1 if spec.kind == "bool" else spec.width
            out.line(f"r -= {width + 2}")
            out.line(f"t = (v >> r) & {(1 << (width + 2)) - 1}")
            out.line(f"if t & {(1 << (width + 1)) | 1}: raise _escape()")
            self._fixed_from(out, spec, var, f"(t >> 1) & {(1 << width) - 1}")
            return
        if wrapped:
            out.line("r -= 1")
            out.line("if (v >> r) & 1: raise _escape()")
        if spec.kind in ("bool", "nbit", "enum"):
            width = 1 if spec.kind == "bool" else spec.width
            if width:
                out.line(f"r -= {width}")
            self._fixed_from(out, spec, var, f"(v >> r) & {(1 << width) - 1}" if width else "0")
        else:
            self._variable(out, spec, var)
        if wrapped:
            out.line("r -= 1")
            out.line("if (v >> r) & 1: raise _escape()")

    def _fixed_from(self, out: Writer, spec: ValueSpec, var: str, bits: str) -> None:
        if spec.kind == "bool":
            out.line(f"{var} = ({bits}) == 1")
        elif spec.kind == "enum":
            out.line(f"{var} = _E_{self.plan.enum_of(spec).class_name}[{bits}]")
        else:
            assert spec.lo is not None and spec.hi is not None
            out.line(f"{var} = ({bits}) - {-spec.lo}" if spec.lo < 0 else f"{var} = ({bits}) + {spec.lo}" if spec.lo
                     else f"{var} = {bits}")
            if (1 << spec.width) > spec.hi - spec.lo + 1:
                out.line(f"if {var} > {spec.hi}: raise _range({var}, {spec.lo}, {spec.hi})")

    def _variable(self, out: Writer, spec: ValueSpec, var: str) -> None:
        if spec.kind == "uint":
            lo = spec.lo or 0
            out.line("r -= 8")
            out.line(f"{var} = (v >> r) & 255")
            condition = f"{var} > 127" if lo == 0 else f"{var} > 127 or {var} < {lo}"
            out.line(f"if {condition}: {var}, r = _uint_checked(v, r, {var}, {lo}, {spec.hi})")
        elif spec.kind == "int":
            out.line("r -= 9")
            out.line(f"{var} = (v >> r) & 511")
            out.line(f"if {var} & 128: {var}, r = _int_tail(v, r, {var}, {spec.lo}, {spec.hi})")
            out.line(f"elif {var} > 255: {var} = 255 - {var}")
            if (spec.lo is not None and spec.lo > -128) or (spec.hi is not None and spec.hi < 127):
                out.line(f"if not {spec.lo} <= {var} <= {spec.hi}: raise _range({var}, {spec.lo}, {spec.hi})")
        elif spec.kind == "string":
            out.line(f"{var}, r = _string(v, r, {spec.max_length})")
        elif spec.kind == "binary":
            out.line(f"{var}, r = _binary(v, r, {spec.max_length})")
        else:
            raise AssertionError(spec.kind)


def _targets_by_label(grammar: TypeGrammar) -> dict[Label, frozenset[int]]:
    found: dict[Label, set[int]] = {}
    for state in grammar.states:
        for label, target in state.productions:
            if target is not None:
                found.setdefault(label, set()).add(target)
    return {label: frozenset(ids) for label, ids in found.items()}
