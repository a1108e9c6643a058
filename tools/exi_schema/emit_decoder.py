"""Writes one straight-line decode function per complex type.

The function reads the event code of the current grammar state, then walks the type's fields in schema
order: `if ev == K:` (or `while` for lists) decodes field K and reads the next event code. Where the state
after a field is the same on every path (always, in flat sequences) the read uses constants; otherwise the
state number `s` comes from a table. A field met out of that order, an escape code (second-level events)
or wildcard/mixed content ends in the final check `ev != END`.

Speed: consecutive fixed-width pieces (event codes of single-production states, the CH and EE codes of
simple elements, booleans, enumerations, n-bit integers, and one trailing multi-way event code) are read
with one shift and mask (ReadGroup); a single-production state makes the next event known, which drops
its `if ev == K` test; `at` (the field named in errors) is assigned only before statements that can fail.

Liberal in what cars send: a value its bit field carries but the schema's facets forbid is kept and noted
with _facet (primitives.facet), never raised; the encoder stays strict.
"""

from __future__ import annotations

from tools.exi_schema.code_writer import Writer
from tools.exi_schema.codec_plan import CodecPlan, field_identifier
from tools.exi_schema.grammar import ANY, EE, MIXED_CH, Field, Label, State, TypeGrammar
from tools.exi_schema.value_types import ValueSpec
from tools.exi_schema.xsd_model import UNBOUNDED, SchemaError

END, ESCAPE, UNSUPPORTED = -1, -2, -3
_UNKNOWN = object()


class _ReadGroup:
    """Fixed-width reads waiting to be done as one: ("zero", width) bits that must be 0, ("value", width,
    (var, spec)) fields, and at most one final ("code", width, (targets, table)) event code; each item also
    names the field that errors in it are reported in."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, object, str]] = []

    def add(self, kind: str, width: int, payload: object, owner: str) -> None:
        if width:
            self.items.append((kind, width, payload, owner))


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
        self.group = _ReadGroup()
        self.at: object = ""
        self.known: object = _UNKNOWN  # the event just read, when the generator knows it
        self.owner = ""
        self.tables.append(f"_F_{self.cls} = {tuple(f.name for f in grammar.fields)!r}")
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
                self._flush(out)
                if self.known != END:
                    self._store_known(out)
                    self._at(out, "")
                    out.line(f"if ev != -1: raise _unexpected(ev, _F_{self.cls})")
                out.line(f"o = _new(_m.{self.cls})")
                for i, f in enumerate(grammar.fields):
                    out.line(f"o.{field_identifier(f.name)} = f{i}")
                out.line("return o, r")
            with out.block("except Exception as e:"):
                out.line("raise _fail(e, at, r) from None")
        out.line("")

    def _store_known(self, out: Writer) -> None:
        """Put a statically known event into `ev` before code that tests it (merges, loops, the end)."""
        self._flush(out)
        if self.known is not _UNKNOWN:
            out.line(f"ev = {self.known}")

    def _at(self, out: Writer, name: str) -> None:
        if self.at != name:
            out.line(f"at = {name!r}")
            self.at = name

    # ----- event codes -----

    def _read(self, out: Writer, states: frozenset[int]) -> None:
        if len(states) != 1:
            self._flush(out)
            self._dynamic_tables()
            self._at(out, self.owner)
            out.line(f"b = _NB_{self.cls}[s]")
            out.line("r -= b")
            out.line(f"ev, s = _TT_{self.cls}[s][(v >> r) & ((1 << b) - 1)]")
            self.known = _UNKNOWN
            return
        (state_id,) = states
        state = self.g.states[state_id]
        with_state = any(label[0] != EE and len(self.targets[label]) > 1 for label, _ in state.productions)
        if len(state.productions) == 1:  # code 0 or the escape: the event is known if the bits are 0
            label, target = state.productions[0]
            self.group.add("zero", state.bits, None, self.owner)
            self.known = self._event(label)
            if with_state:
                self._flush(out)
                out.line(f"s = {target}")
            return
        name = f"_{'EVS' if with_state else 'EV'}_{self.cls}_{state.id}"
        self.tables.append(f"{name} = {tuple(self._row(state, with_state))!r}")
        self.group.add("code", state.bits, ("ev, s" if with_state else "ev", name), self.owner)
        self._flush(out)
        self.known = _UNKNOWN

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
        self.tables.append(f"_NB_{self.cls} = {tuple(s.bits for s in self.g.states)!r}")
        self.tables.append(f"_TT_{self.cls} = {tuple(tuple(self._row(s, True)) for s in self.g.states)!r}")

    def _flush(self, out: Writer) -> None:
        items = self.group.items
        if not items:
            return
        self.group.items = []
        total = sum(item[1] for item in items)
        self._at(out, items[0][3])
        out.line(f"r -= {total}")
        single = len(items) == 1 or all(item[0] == "zero" for item in items)
        source = "(v >> r)" if single else "t"
        if not single:
            out.line(f"t = (v >> r) & {(1 << total) - 1}")
        zero_mask = 0
        shift = total
        extractions: list[tuple[str, int, int, object, str]] = []
        for kind, width, payload, owner in items:
            shift -= width
            if kind == "zero":
                zero_mask |= ((1 << width) - 1) << shift
            else:
                extractions.append((kind, width, shift, payload, owner))
        if zero_mask:
            test = f"t & {zero_mask}" if not single else f"(v >> r) & {zero_mask}"
            out.line(f"if {test}: raise _escape()")
        for kind, width, at_shift, payload, owner in extractions:
            bits = f"({source} >> {at_shift}) & {(1 << width) - 1}" if at_shift else f"{source} & {(1 << width) - 1}"
            if kind == "code":
                targets, table = payload  # type: ignore[misc]
                out.line(f"{targets} = {table}[{bits}]")
            elif kind == "head":
                out.line(f"{payload[0]} = {bits}")  # type: ignore[index]
            else:
                var, spec = payload  # type: ignore[misc]
                self._fixed_value(out, spec, var, bits, owner)

    # ----- fields -----

    def _field(self, out: Writer, i: int, f: Field) -> None:
        if self.known is not _UNKNOWN and self.known != i:
            return  # the event already read is another one: this field is absent
        targets = self.targets.get(f.label, frozenset())
        self.owner = f.name
        if f.is_list:
            self._list(out, i, f, targets)
            return
        if self.known == i:
            self._value(out, f, f"f{i}")
            self._read(out, targets)
            return
        self._flush(out)
        with out.block(f"if ev == {i}:"):
            self._value(out, f, f"f{i}")
            self._read(out, targets)
            self._store_known(out)
        self.known = _UNKNOWN
        self.at = _UNKNOWN

    def _list(self, out: Writer, i: int, f: Field, targets: frozenset[int]) -> None:
        full = self.g.full_variant.get(next(iter(targets))) if len(targets) == 1 else None
        if f.max != UNBOUNDED and full is None:
            raise SchemaError(f"{self.cls}.{f.name}: bounded list whose loop state is not unique")
        self._flush(out)
        if self.known == i:
            out.line(f"ev = {i}")
        self.at = _UNKNOWN
        with out.block(f"while ev == {i}:"):
            self._value(out, f, "x")
            self._flush(out)
            out.line(f"f{i}.append(x)")
            if full is not None:
                with out.block(f"if len(f{i}) < {f.max}:"):
                    self._read(out, targets)
                    self._store_known(out)
                with out.block("else:"):
                    self._read(out, frozenset({full}))
                    self._store_known(out)
            else:
                self._read(out, targets)
                self._store_known(out)
            self.at = _UNKNOWN
        self.known = _UNKNOWN

    def _value(self, out: Writer, f: Field, var: str) -> None:
        if f.complex_type is not None:
            self._flush(out)
            self._at(out, f.name)
            out.line(f"{var}, r = _d_{self.plan.class_of(f.complex_type)}(v, r)")
            return
        spec = f.value
        assert spec is not None
        wrapped = f.kind == "element"  # an element's simple content: CH code before, EE code after
        if wrapped:
            self.group.add("zero", 1, None, f.name)
        if spec.kind in ("bool", "nbit", "enum"):
            width = 1 if spec.kind == "bool" else spec.width
            if width:
                self.group.add("value", width, (var, spec), f.name)
            else:
                self._fixed_value(out, spec, var, "0", f.name)
        elif spec.kind in ("int", "uint"):  # the varint's first octet (and sign) joins the read group
            self.group.add("head", 9 if spec.kind == "int" else 8, (var, spec), f.name)
            self._flush(out)
            self._varint_tail(out, spec, var)
        else:
            self._flush(out)
            self._at(out, f.name)
            self._variable(out, spec, var, f.name)
        if wrapped:
            self.group.add("zero", 1, None, f.name)

    def _fixed_value(self, out: Writer, spec: ValueSpec, var: str, bits: str, owner: str) -> None:
        if spec.kind == "bool":
            out.line(f"{var} = ({bits}) == 1")
        elif spec.kind == "enum":
            self._at(out, owner)
            out.line(f"{var} = _E_{self.plan.enum_of(spec).class_name}[{bits}]")
        else:
            assert spec.lo is not None and spec.hi is not None
            if spec.lo < 0:
                out.line(f"{var} = ({bits}) - {-spec.lo}")
            else:
                out.line(f"{var} = ({bits}) + {spec.lo}" if spec.lo else f"{var} = {bits}")
            if (1 << spec.width) > spec.hi - spec.lo + 1:  # the bits carry more than the facets allow
                out.line(f"if {var} > {spec.hi}: _facet({self._where(owner)!r}, {var}, {spec.lo}, {spec.hi})")

    def _where(self, field_name: str) -> str:
        """How a facet violation names the field: "Type.Field"."""
        return f"{self.cls}.{field_name}"

    def _variable(self, out: Writer, spec: ValueSpec, var: str, owner: str) -> None:
        if spec.kind == "string":
            out.line(f"{var}, r = _string(v, r, {spec.max_length}, {self._where(owner)!r})")
        elif spec.kind == "binary":
            out.line(f"{var}, r = _binary(v, r, {spec.max_length}, {self._where(owner)!r})")
        else:
            raise AssertionError(spec.kind)

    def _varint_tail(self, out: Writer, spec: ValueSpec, var: str) -> None:
        """After the head (first octet, with the sign bit for signed types) is in `var`: the rest.

        One and two octets are handled inline (voltages like 4128 need two), longer values by a helper."""
        self._at(out, self.owner)
        where = self._where(self.owner)
        if spec.kind == "uint":
            lo = spec.lo or 0
            condition = f"{var} > 127" if lo == 0 else f"{var} > 127 or {var} < {lo}"
            out.line(f"if {condition}: {var}, r = _uint_checked(v, r, {var}, {lo}, {spec.hi}, {where!r})")
            return
        with out.block(f"if {var} & 128:"):
            out.line("r -= 8")
            out.line("y = (v >> r) & 255")
            out.line(f"if y > 127: {var}, r = _int_tail(v, r + 8, {var}, {spec.lo}, {spec.hi}, {where!r})")
            out.line(f"elif {var} > 255: {var} = -((({var} & 127) | (y << 7)) + 1)")
            out.line(f"else: {var} = ({var} & 127) | (y << 7)")
        out.line(f"elif {var} > 255: {var} = 255 - {var}")
        if (spec.lo is not None and spec.lo > -16384) or (spec.hi is not None and spec.hi < 16383):
            out.line(f"if not {spec.lo} <= {var} <= {spec.hi}: _facet({where!r}, {var}, {spec.lo}, {spec.hi})")


def _targets_by_label(grammar: TypeGrammar) -> dict[Label, frozenset[int]]:
    found: dict[Label, set[int]] = {}
    for state in grammar.states:
        for label, target in state.productions:
            if target is not None:
                found.setdefault(label, set()).add(target)
    return {label: frozenset(ids) for label, ids in found.items()}
