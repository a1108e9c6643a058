"""Writes one straight-line encode function per complex type.

Fields are written in schema order. The generator follows the set of grammar states the encoder can be in
at each point: while it is a single state, event codes are constants (folded with neighbouring fixed-width
values into one shift); after optional fields it becomes a set, and the variable `s` plus a per-field table
give the code. A field the current state does not allow hits a None table entry, reported as an ExiError.
"""

from __future__ import annotations

from tools.exi_schema.code_writer import PendingBits, Writer
from tools.exi_schema.codec_plan import CodecPlan, field_identifier
from tools.exi_schema.grammar import EE, Field, Label, TypeGrammar
from tools.exi_schema.value_types import ValueSpec
from tools.exi_schema.xsd_model import UNBOUNDED, SchemaError


class _Flow:
    """Where the encoder can be: the possible grammar states and whether `s` holds the current one."""

    def __init__(self, states: frozenset[int], s_valid: bool) -> None:
        self.states = states
        self.s_valid = s_valid


class EncoderEmitter:
    def __init__(self, plan: CodecPlan, tables: list[str]) -> None:
        self.plan = plan
        self.tables = tables

    def emit(self, grammar: TypeGrammar, out: Writer) -> None:
        self.g = grammar
        self.cls = self.plan.class_of(grammar.ctype)
        self.bits = PendingBits()
        with out.block(f"def _e_{self.cls}(o: _m.{self.cls}, a: int) -> int:"):
            out.line('at = ""')
            with out.block("try:"):
                flow = _Flow(frozenset({0}), False)
                for i, f in enumerate(grammar.fields):
                    flow = self._field(out, i, f, flow)
                out.line('at = ""')
                self._event(out, (EE, None), flow, f"_EE_{self.cls}")
                self.bits.flush(out)
                out.line("return a")
            with out.block("except Exception as e:"):
                out.line("raise _fail_enc(e, at, o) from None")
        out.line("")

    # ----- event codes -----

    def _event(self, out: Writer, label: Label, flow: _Flow, table: str) -> _Flow:
        """Append the event code of `label` from the current state(s); returns the flow after it."""
        if len(flow.states) == 1:
            (state_id,) = flow.states
            state = self.g.states[state_id]
            codes = [i for i, (lab, _) in enumerate(state.productions) if lab == label]
            if not codes:
                self.bits.flush(out)
                out.line("raise _not_allowed()")
                return _Flow(frozenset(), False)
            target = state.productions[codes[0]][1]
            self.bits.add(state.bits, codes[0])
            return _Flow(frozenset() if target is None else frozenset({target}), False)
        if not flow.s_valid:
            raise SchemaError(f"{self.cls}: state variable lost")
        rows: list[tuple[int, int, int] | tuple[int, int] | None] = []
        targets: set[int] = set()
        for state in self.g.states:
            hit = next(((c, t) for c, (lab, t) in enumerate(state.productions) if lab == label), None)
            if hit is None:
                rows.append(None)
            elif label[0] == EE:
                rows.append((hit[0], state.bits))
            else:
                rows.append((hit[0], state.bits, hit[1]))
                if state.id in flow.states:
                    targets.add(hit[1])
        self.tables.append(f"{table} = {tuple(rows)!r}")
        self.bits.flush(out)
        out.line(f"c, b = {table}[s]" if label[0] == EE else f"c, b, s = {table}[s]")
        self.bits.add("b", "c")
        return _Flow(frozenset(targets), True)

    # ----- fields -----

    def _field(self, out: Writer, i: int, f: Field, flow: _Flow) -> _Flow:
        ident = field_identifier(f.name)
        out.line(f"at = {f.name!r}")
        out.line(f"x{i} = o.{ident}")
        table = f"_X_{self.cls}_{i}"
        if f.is_list:
            return self._list(out, i, f, flow, table)
        if f.min > 0:
            after = self._event(out, f.label, flow, table)
            self._value(out, f, f"x{i}", f"k{i}")
            return after
        self.bits.flush(out)
        with out.block(f"if x{i} is not None:"):
            present = self._event(out, f.label, flow, table)
            self._value(out, f, f"x{i}", f"k{i}")
            self.bits.flush(out)
            merged = present.states | flow.states
            if len(merged) > 1 and not present.s_valid and present.states:
                out.line(f"s = {next(iter(present.states))}")
        return self._merge(out, present, flow)

    def _merge(self, out: Writer, present: _Flow, absent: _Flow) -> _Flow:
        merged = present.states | absent.states
        if len(merged) <= 1:
            return _Flow(merged, present.s_valid and absent.s_valid)
        if not absent.s_valid:
            with out.block("else:"):
                out.line(f"s = {next(iter(absent.states))}")
        return _Flow(merged, True)

    def _list(self, out: Writer, i: int, f: Field, flow: _Flow, table: str) -> _Flow:
        high = f.max if f.max != UNBOUNDED else None
        self.bits.flush(out)
        out.line(f"n{i} = len(x{i})")
        limit = f"n{i} < {f.min}" + (f" or n{i} > {high}" if high is not None else "")
        out.line(f"if {limit}: raise _count(n{i}, {f.min}, {high})")
        with out.block(f"if n{i}:"):
            first = self._event(out, f.label, flow, table)
            if len(first.states) != 1:
                raise SchemaError(f"{self.cls}.{f.name}: list whose loop state is not unique")
            (loop,) = first.states
            self._value(out, f, f"x{i}[0]", f"k{i}")
            self.bits.flush(out)
            with out.block(f"for y in x{i}[1:]:"):
                again = self._event(out, f.label, _Flow(first.states, False), table)
                if again.states != first.states:
                    raise SchemaError(f"{self.cls}.{f.name}: repeated element does not loop")
                self._value(out, f, "y", f"k{i}")
                self.bits.flush(out)
            full = self.g.full_variant.get(loop)
            if high is not None:
                if full is None:
                    raise SchemaError(f"{self.cls}.{f.name}: bounded list without a full state")
                out.line(f"s = {full} if n{i} == {high} else {loop}")
                present = _Flow(frozenset({loop, full}), True)
            else:
                present = _Flow(frozenset({loop}), False)
                if f.min == 0 and len(present.states | flow.states) > 1:
                    out.line(f"s = {loop}")
                    present.s_valid = True
        if f.min > 0:
            return present
        return self._merge(out, present, flow)

    def _value(self, out: Writer, f: Field, var: str, tmp: str) -> None:
        """Append field f's value held in `var`; `tmp` names a temporary for looked-up codes."""
        if f.complex_type is not None:
            self.bits.flush(out)
            out.line(f"a = _e_{self.plan.class_of(f.complex_type)}({var}, a)")
            return
        spec = f.value
        assert spec is not None
        wrapped = f.kind == "element"
        if wrapped:
            self.bits.add(1, 0)  # CH
        self._simple(out, spec, var, tmp)
        if wrapped:
            self.bits.add(1, 0)  # EE

    def _simple(self, out: Writer, spec: ValueSpec, var: str, tmp: str) -> None:
        # Look codes up now, so that a bad value is reported at its own field.
        if spec.kind == "bool":
            out.line(f"{tmp} = _BOOL[{var}]")
            self.bits.add(1, tmp)
        elif spec.kind == "enum":
            out.line(f"{tmp} = _I_{self.plan.enum_of(spec).class_name}[{var}]")
            self.bits.add(spec.width, tmp)
        elif spec.kind == "nbit":
            assert spec.lo is not None and spec.hi is not None
            out.line(f"if type({var}) is not int or not {spec.lo} <= {var} <= {spec.hi}: "
                     f"raise _range({var}, {spec.lo}, {spec.hi})")
            offset = f"{var} - {spec.lo}" if spec.lo > 0 else f"{var} + {-spec.lo}" if spec.lo < 0 else var
            self.bits.add(spec.width, offset)
        elif spec.kind == "uint":
            self.bits.flush(out)
            lo = spec.lo or 0
            out.line(f"if {lo} <= {var} < 128: a = (a << 8) | {var}")
            out.line(f"else: a = _put_uint(a, {var}, {lo}, {spec.hi})")
        elif spec.kind == "int":
            self.bits.flush(out)
            low = max(-128, spec.lo) if spec.lo is not None else -128
            high = min(127, spec.hi) if spec.hi is not None else 127
            out.line(f"if 0 <= {var} <= {high}: a = (a << 9) | {var}")
            out.line(f"elif {low} <= {var} < 0: a = (a << 9) | (255 - {var})")
            out.line(f"else: a = _put_int(a, {var}, {spec.lo}, {spec.hi})")
        elif spec.kind == "string":
            self.bits.flush(out)
            out.line(f"a = _put_string(a, {var}, {spec.min_length}, {spec.max_length})")
        elif spec.kind == "binary":
            self.bits.flush(out)
            out.line(f"a = _put_binary(a, {var}, {spec.min_length}, {spec.max_length})")
        else:
            raise AssertionError(spec.kind)
