"""EXI schema-informed grammars of complex types (EXI 1.0 section 8.5.4), strict = false.

A type's attribute uses (sorted by local name, then namespace) and its content particles become an
epsilon-NFA whose terminals are AT(qname), SE(qname), SE(*), CH and EE. The subset construction gives the
normalized grammar (epsilon productions removed, duplicate terminals merged). Within each state the
productions are numbered as EXI 8.5.4.2.3 orders them: AT sorted by qname, SE(qname) in schema order
(substitution group members sorted by local name then namespace, abstract ones included, as real ISO 15118-2
messages show), SE(*), EE, CH. With strict = false every
state also has second-level productions (xsi:type, undeclared content), so the first-level code takes
ceil(log2(n + 1)) bits for n declared productions; the code n is the escape that this codec rejects.

A bounded maxOccurs > 1 on an element is not unrolled: the loop state gets a "full" variant without the
loop production, used once the count reaches maxOccurs (the codes of all other states are the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.exi_schema.value_types import ValueSpec, bits_for, resolve_value
from tools.exi_schema.xsd_model import (
    UNBOUNDED, XS, ComplexTypeDef, ElementDecl, Particle, QName, SchemaError, SchemaSet, SimpleTypeDef,
)

# Terminal kinds, in the order EXI numbers them inside one state.
AT, SE, ANY, EE, CH, MIXED_CH = "AT", "SE", "ANY", "EE", "CH", "MIXED_CH"
_KIND_RANK = {AT: 0, SE: 1, ANY: 2, EE: 3, CH: 4, MIXED_CH: 4}

Label = tuple[str, QName | None]
TypeRef = QName | SimpleTypeDef | ComplexTypeDef


@dataclass
class Field:
    """One attribute, element name or simple content of a complex type: one dataclass field."""

    name: str
    label: Label
    kind: str  # "attribute" | "element" | "content"
    value: ValueSpec | None  # simple values
    complex_type: ComplexTypeDef | None  # complex element content
    min: int
    max: int  # UNBOUNDED or a count
    choice: int | None = None  # fields with the same number are alternatives (xs:choice, substitution group)

    @property
    def is_list(self) -> bool:
        return self.max == UNBOUNDED or self.max > 1


@dataclass
class State:
    id: int
    productions: list[tuple[Label, int | None]]  # index = event code; target None for EE
    bits: int


@dataclass
class TypeGrammar:
    ctype: ComplexTypeDef
    fields: list[Field]
    states: list[State]
    full_variant: dict[int, int] = field(default_factory=dict)  # loop state id -> its full variant id


@dataclass
class _Nfa:
    transitions: list[list[tuple[Label, int, tuple, bool]]] = field(default_factory=list)  # label, to, key, counted
    epsilons: list[list[int]] = field(default_factory=list)
    content: list[bool] = field(default_factory=list)

    def new_state(self, content: bool) -> int:
        self.transitions.append([])
        self.epsilons.append([])
        self.content.append(content)
        return len(self.content) - 1


class GrammarBuilder:
    """Builds the grammar of each complex type of one schema set."""

    def __init__(self, schemas: SchemaSet) -> None:
        self.schemas = schemas

    # ----- effective content of a complex type -----

    def complex_type(self, ref: TypeRef) -> ComplexTypeDef | None:
        if isinstance(ref, ComplexTypeDef):
            return ref
        if isinstance(ref, tuple):
            if ref == (XS, "anyType"):
                raise SchemaError("xs:anyType content is not supported")
            return self.schemas.complex_types.get(ref)
        return None

    def element_type(self, decl: ElementDecl) -> TypeRef:
        if decl.type is None:
            if decl.substitution_head is not None:  # XSD: defaults to the head's type
                return self.element_type(self.schemas.elements[decl.substitution_head])
            raise SchemaError(f"element {decl.name[1]} has no type")
        return decl.type

    def effective(self, ctype: ComplexTypeDef) -> tuple[list[Particle], list, ValueSpec | None, bool]:
        """(content particles in order, attribute uses, simple content value, mixed) with derivation applied."""
        particles: list[Particle] = []
        attributes = list(ctype.attributes)
        simple: ValueSpec | None = None
        if ctype.base is not None:
            base = self.complex_type(ctype.base)
            if ctype.simple_content:
                if base is not None:
                    _, base_attrs, simple, _ = self.effective(base)
                    attributes = base_attrs + attributes
                else:
                    simple = resolve_value(self.schemas, ctype.base)
            elif base is not None and ctype.derivation == "extension":
                base_particles, base_attrs, _, _ = self.effective(base)
                particles.extend(base_particles)
                attributes = base_attrs + attributes
            elif base is not None:  # restriction: own particle, inherited attributes unless redeclared
                own = {a.name for a in attributes}
                attributes = [a for a in self.effective(base)[1] if a.name not in own] + attributes
        if ctype.has_any_attribute:
            raise SchemaError(f"xs:anyAttribute in {ctype.name} is not supported")
        if ctype.particle is not None:
            particles.append(ctype.particle)
        return particles, attributes, simple, ctype.mixed

    def alternatives(self, particle: Particle) -> list[ElementDecl]:
        """The element declarations an element particle stands for: itself and its substitution group."""
        if particle.element is not None:
            return [particle.element]
        assert particle.ref is not None
        head = self.schemas.elements.get(particle.ref)
        if head is None:
            raise SchemaError(f"unknown element {particle.ref[1]}")
        # Abstract declarations keep their production: the ISO 15118-2 codecs in the field (EXIficient
        # grammars) count the abstract BodyElement, and real ISO-2 messages only decode that way.
        decls = [head] + self.schemas.substitution_members(head.name)
        return sorted(decls, key=lambda d: (d.name[1], d.name[0]))

    # ----- grammar -----

    def build(self, ctype: ComplexTypeDef) -> TypeGrammar:
        particles, attributes, simple, mixed = self.effective(ctype)
        nfa = _Nfa()
        fields: dict[Label, Field] = {}
        state = nfa.new_state(content=False)
        start = state
        for attr in sorted(attributes, key=lambda a: (a.name[1], a.name[0])):
            label: Label = (AT, attr.name)
            fields[label] = Field(attr.name[1], label, "attribute", resolve_value(self.schemas, attr.type), None,
                                  1 if attr.required else 0, 1)
            after = nfa.new_state(content=False)
            nfa.transitions[state].append((label, after, attr.name, False))
            if not attr.required:
                nfa.epsilons[state].append(after)
            state = after
        content_start = nfa.new_state(content=True)
        nfa.epsilons[state].append(content_start)
        if simple is not None:
            final = nfa.new_state(content=True)
            nfa.transitions[content_start].append(((CH, None), final, (), False))
            fields[(CH, None)] = Field("content", (CH, None), "content", simple, None, 1, 1)
        else:
            counter = [0, 0]  # element particles, choice groups
            final = content_start
            for particle in particles:
                final = self._particle(nfa, particle, final, fields, counter, None)
                _add_occurrences(fields, self._occurrences(particle, fields))
        if mixed:
            for index, is_content in enumerate(nfa.content):
                if is_content:
                    nfa.transitions[index].append(((MIXED_CH, None), index, (), False))
        grammar = TypeGrammar(ctype, list(fields.values()), [])
        _Determinizer(nfa, start, final, grammar).run()
        return grammar

    def _particle(self, nfa: _Nfa, p: Particle, start: int, fields: dict[Label, Field], counter: list[int],
                  choice: int | None) -> int:
        """Add particle `p` after NFA state `start`; returns the state reached at its end."""
        if p.kind in ("element", "any"):
            return self._term(nfa, p, start, fields, counter, choice)
        if p.max not in (1, UNBOUNDED):
            raise SchemaError(f"bounded maxOccurs={p.max} on a model group is not supported")
        entry = nfa.new_state(content=True)
        nfa.epsilons[start].append(entry)
        end = nfa.new_state(content=True)
        if p.kind == "sequence":
            current = entry
            for child in p.children:
                current = self._particle(nfa, child, current, fields, counter, None)
            nfa.epsilons[current].append(end)
        else:
            counter[1] += 1
            group = counter[1]
            for child in p.children:
                nfa.epsilons[self._particle(nfa, child, entry, fields, counter, group)].append(end)
        if p.max == UNBOUNDED:
            nfa.epsilons[end].append(entry)
        if p.min == 0:
            nfa.epsilons[entry].append(end)
        elif p.min > 1:
            raise SchemaError(f"minOccurs={p.min} on a model group is not supported")
        return end

    def _term(self, nfa: _Nfa, p: Particle, start: int, fields: dict[Label, Field], counter: list[int],
              choice: int | None) -> int:
        labels: list[tuple[Label, tuple]] = []
        if p.kind == "any":
            labels.append(((ANY, None), ()))
        else:
            index = counter[0]
            counter[0] += 1
            decls = self.alternatives(p)
            if len(decls) > 1 and choice is None:
                counter[1] += 1
                choice = counter[1]
            for rank, decl in enumerate(decls):
                label: Label = (SE, decl.name)
                labels.append((label, (index, rank)))
                self._element_field(decl, label, fields, choice)
        if p.min > 1:
            raise SchemaError(f"minOccurs={p.min} on an element is not supported")
        end = nfa.new_state(content=True)
        if p.max == 1:
            for label, key in labels:
                nfa.transitions[start].append((label, end, key, False))
        else:
            loop = nfa.new_state(content=True)
            counted = p.max != UNBOUNDED
            if counted and len(labels) > 1:
                raise SchemaError("bounded repetition of a substitution group is not supported")
            for label, key in labels:
                nfa.transitions[start].append((label, loop, key, False))
                nfa.transitions[loop].append((label, loop, key, counted))
            nfa.epsilons[loop].append(end)
        if p.min == 0:
            nfa.epsilons[start].append(end)
        return end

    def _element_field(self, decl: ElementDecl, label: Label, fields: dict[Label, Field], choice: int | None) -> None:
        type_ref = self.element_type(decl)
        ctype = self.complex_type(type_ref)
        value = None if ctype is not None else resolve_value(self.schemas, type_ref)  # type: ignore[arg-type]
        existing = fields.get(label)
        if existing is not None:
            if existing.complex_type is not ctype or existing.value != value:
                raise SchemaError(f"element {decl.name[1]} appears twice with different types")
            return
        if any(f.name == decl.name[1] for f in fields.values()):
            raise SchemaError(f"two fields named {decl.name[1]} in one type")
        fields[label] = Field(decl.name[1], label, "element", value, ctype, 0, 0, choice)

    def _occurrences(self, p: Particle, fields: dict[Label, Field]) -> dict[Label, tuple[int, int]]:
        """(min, max) occurrences of each element label within particle p; max -1 = unbounded."""
        if p.kind == "any":
            return {}
        if p.kind == "element":
            decls = self.alternatives(p)
            single_min = p.min if len(decls) == 1 else 0
            return {(SE, d.name): (single_min, p.max) for d in decls}
        merged: dict[Label, tuple[int, int]] = {}
        children = [self._occurrences(c, fields) for c in p.children]
        labels = {label for child in children for label in child}
        for label in labels:
            counts = [child.get(label, (0, 0)) for child in children]
            if p.kind == "sequence":
                low = sum(c[0] for c in counts)
                high = UNBOUNDED if any(c[1] == UNBOUNDED for c in counts) else sum(c[1] for c in counts)
            else:
                low = min(c[0] for c in counts)
                high = UNBOUNDED if any(c[1] == UNBOUNDED for c in counts) else max(c[1] for c in counts)
            merged[label] = (low, high)
        return {label: (low * p.min, UNBOUNDED if UNBOUNDED in (high, p.max) else high * p.max)
                for label, (low, high) in merged.items()}


def _add_occurrences(fields: dict[Label, Field], counts: dict[Label, tuple[int, int]]) -> None:
    for label, (low, high) in counts.items():
        f = fields[label]
        f.min += low
        f.max = UNBOUNDED if UNBOUNDED in (f.max, high) else f.max + high


class _Determinizer:
    """Subset construction over the NFA, with EXI event-code order and full variants of counted loops."""

    def __init__(self, nfa: _Nfa, start: int, final: int, grammar: TypeGrammar) -> None:
        self.nfa = nfa
        self.start = start
        self.final = final
        self.grammar = grammar
        self.ids: dict[tuple[frozenset[int], bool], int] = {}
        self.pending: list[tuple[frozenset[int], bool]] = []

    def run(self) -> None:
        self._state_id(self._closure({self.start}), False)
        while self.pending:
            key = self.pending.pop(0)
            self._fill(key)

    def _closure(self, states: set[int]) -> frozenset[int]:
        seen = set(states)
        stack = list(states)
        while stack:
            for nxt in self.nfa.epsilons[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return frozenset(seen)

    def _state_id(self, nfa_states: frozenset[int], full: bool) -> int:
        key = (nfa_states, full)
        if key not in self.ids:
            self.ids[key] = len(self.ids)
            self.grammar.states.append(State(self.ids[key], [], 0))
            self.pending.append(key)
        return self.ids[key]

    def _fill(self, key: tuple[frozenset[int], bool]) -> None:
        nfa_states, full = key
        grouped: dict[Label, tuple[set[int], tuple]] = {}
        has_counted = False
        for state in sorted(nfa_states):
            for label, target, order, counted in self.nfa.transitions[state]:
                has_counted |= counted
                if counted and full:
                    continue
                targets, best = grouped.get(label, (set(), order))
                targets.add(target)
                grouped[label] = (targets, min(best, order))
        entries: list[tuple[tuple, Label, int | None]] = []
        for label, (targets, order) in grouped.items():
            target_id = self._state_id(self._closure(targets), False)
            entries.append(((_KIND_RANK[label[0]], _sort_key(label, order)), label, target_id))
        if self.final in nfa_states:
            entries.append(((_KIND_RANK[EE], ()), (EE, None), None))
        entries.sort(key=lambda e: e[0])
        state = self.grammar.states[self.ids[key]]
        state.productions = [(label, target) for _, label, target in entries]
        state.bits = bits_for(len(entries) + 1)  # + 1: the escape to second-level productions (strict=false)
        if has_counted and not full:
            self.grammar.full_variant[state.id] = self._state_id(nfa_states, True)


def _sort_key(label: Label, order: tuple) -> tuple:
    if label[0] == AT:
        assert label[1] is not None
        return (label[1][1], label[1][0])
    return order
