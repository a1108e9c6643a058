"""The subset of XML Schema that the V2G schemas use, read into plain objects.

Only what EXI grammars need is kept: global and local element declarations, complex types (sequence,
choice, wildcards, attributes, simple content, extension and restriction), simple types with their facets.
Anything else (xs:all, xs:group, xs:list, xs:union, patterns...) raises SchemaError naming the construct, so
a new schema never gets silently wrong grammars.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

XS = "http://www.w3.org/2001/XMLSchema"
UNBOUNDED = -1

QName = tuple[str, str]  # (namespace uri, local name)


class SchemaError(Exception):
    """The schema uses something the generator does not support, or is inconsistent."""


@dataclass
class SimpleTypeDef:
    name: QName | None
    base: QName | SimpleTypeDef | None  # None only for built-ins
    facets: dict[str, str] = field(default_factory=dict)
    enumeration: list[str] = field(default_factory=list)


@dataclass
class ElementDecl:
    name: QName
    type: QName | SimpleTypeDef | ComplexTypeDef | None  # None: xs:anyType (unsupported)
    abstract: bool = False
    substitution_head: QName | None = None


@dataclass
class Particle:
    kind: str  # "element" | "any" | "sequence" | "choice"
    min: int = 1
    max: int = 1  # UNBOUNDED for maxOccurs="unbounded"
    children: list[Particle] = field(default_factory=list)
    element: ElementDecl | None = None  # local declaration
    ref: QName | None = None  # reference to a global element
    namespace: str = "##any"


@dataclass
class AttributeUse:
    name: QName
    type: QName | SimpleTypeDef
    required: bool


@dataclass
class ComplexTypeDef:
    name: QName | None
    abstract: bool = False
    mixed: bool = False
    derivation: str | None = None  # "extension" | "restriction" | None
    base: QName | None = None
    simple_content: bool = False
    particle: Particle | None = None
    attributes: list[AttributeUse] = field(default_factory=list)
    has_any_attribute: bool = False


@dataclass
class SchemaSet:
    """All declarations of one schema and the schemas it imports, keyed by qualified name."""

    elements: dict[QName, ElementDecl] = field(default_factory=dict)
    complex_types: dict[QName, ComplexTypeDef] = field(default_factory=dict)
    simple_types: dict[QName, SimpleTypeDef] = field(default_factory=dict)

    def substitution_members(self, head: QName) -> list[ElementDecl]:
        """Global elements that may stand for `head` (transitively), not including head itself."""
        members: list[ElementDecl] = []
        frontier = [head]
        while frontier:
            current = frontier.pop()
            for decl in self.elements.values():
                if decl.substitution_head == current and decl not in members:
                    members.append(decl)
                    frontier.append(decl.name)
        return members


def load_schema_set(root_file: Path) -> SchemaSet:
    """Read `root_file` and every schema it imports or includes (transitively)."""
    schemas = SchemaSet()
    pending = [root_file.resolve()]
    seen: set[Path] = set()
    while pending:
        path = pending.pop(0)
        if path in seen:
            continue
        seen.add(path)
        reader = _SchemaFileReader(path, schemas)
        pending.extend(reader.read())
    return schemas


class _SchemaFileReader:
    def __init__(self, path: Path, schemas: SchemaSet) -> None:
        self.path = path
        self.schemas = schemas
        self.prefixes: dict[str, str] = {}
        self.target = ""
        self.elements_qualified = False
        self.attributes_qualified = False

    def read(self) -> list[Path]:
        root = None
        try:
            for event, item in ET.iterparse(self.path, events=("start-ns", "start")):
                if event == "start-ns":
                    prefix, uri = item
                    self.prefixes.setdefault(prefix, uri)
                elif root is None:
                    root = item
        except ET.ParseError as exc:
            raise SchemaError(f"{self.path}: {exc}") from None
        assert root is not None
        if root.tag != f"{{{XS}}}schema":
            raise SchemaError(f"{self.path}: root is not xs:schema")
        self.target = root.get("targetNamespace", "")
        self.elements_qualified = root.get("elementFormDefault") == "qualified"
        self.attributes_qualified = root.get("attributeFormDefault") == "qualified"
        imports: list[Path] = []
        for child in root:
            tag = _local_tag(child)
            if tag in ("import", "include"):
                location = child.get("schemaLocation")
                if location:
                    imports.append((self.path.parent / location).resolve())
            elif tag == "element":
                decl = self._element(child, is_global=True)
                self.schemas.elements[decl.name] = decl
            elif tag == "complexType":
                ctype = self._complex_type(child, (self.target, child.get("name", "")))
                self.schemas.complex_types[ctype.name] = ctype  # type: ignore[index]
            elif tag == "simpleType":
                stype = self._simple_type(child, (self.target, child.get("name", "")))
                self.schemas.simple_types[stype.name] = stype  # type: ignore[index]
            elif tag in ("annotation",):
                continue
            else:
                raise SchemaError(f"{self.path}: unsupported top-level xs:{tag}")
        return imports

    def _qname(self, text: str) -> QName:
        prefix, _, local = text.rpartition(":")
        if prefix not in self.prefixes and prefix:
            raise SchemaError(f"{self.path}: unknown prefix in {text!r}")
        return (self.prefixes.get(prefix, ""), local)

    def _element(self, node: ET.Element, is_global: bool) -> ElementDecl:
        qualified = is_global or self.elements_qualified or node.get("form") == "qualified"
        name = (self.target if qualified else "", node.get("name", ""))
        head = node.get("substitutionGroup")
        decl = ElementDecl(
            name=name,
            type=None,
            abstract=node.get("abstract") == "true",
            substitution_head=self._qname(head) if head else None,
        )
        if node.get("type"):
            decl.type = self._qname(node.get("type", ""))
        for child in node:
            tag = _local_tag(child)
            if tag == "complexType":
                decl.type = self._complex_type(child, None)
            elif tag == "simpleType":
                decl.type = self._simple_type(child, None)
            elif tag not in ("annotation",):
                raise SchemaError(f"{self.path}: unsupported xs:{tag} in element {name[1]}")
        return decl

    def _complex_type(self, node: ET.Element, name: QName | None) -> ComplexTypeDef:
        ctype = ComplexTypeDef(name=name, abstract=node.get("abstract") == "true", mixed=node.get("mixed") == "true")
        for child in node:
            tag = _local_tag(child)
            if tag in ("complexContent", "simpleContent"):
                ctype.simple_content = tag == "simpleContent"
                if child.get("mixed") == "true":
                    ctype.mixed = True
                for derivation in child:
                    dtag = _local_tag(derivation)
                    if dtag == "annotation":
                        continue
                    if dtag not in ("extension", "restriction"):
                        raise SchemaError(f"{self.path}: unsupported xs:{dtag} in {tag}")
                    ctype.derivation = dtag
                    ctype.base = self._qname(derivation.get("base", ""))
                    self._content(derivation, ctype)
            else:
                self._content_item(child, ctype)
        return ctype

    def _content(self, node: ET.Element, ctype: ComplexTypeDef) -> None:
        for child in node:
            self._content_item(child, ctype)

    def _content_item(self, child: ET.Element, ctype: ComplexTypeDef) -> None:
        tag = _local_tag(child)
        if tag in ("sequence", "choice"):
            ctype.particle = self._particle(child)
        elif tag == "attribute":
            ctype.attributes.append(self._attribute(child))
        elif tag == "anyAttribute":
            ctype.has_any_attribute = True
        elif tag == "annotation":
            return
        else:
            raise SchemaError(f"{self.path}: unsupported xs:{tag} in a complex type")

    def _attribute(self, node: ET.Element) -> AttributeUse:
        if node.get("ref"):
            raise SchemaError(f"{self.path}: attribute references are not supported")
        qualified = self.attributes_qualified or node.get("form") == "qualified"
        name = (self.target if qualified else "", node.get("name", ""))
        attr_type: QName | SimpleTypeDef = (XS, "anySimpleType")
        if node.get("type"):
            attr_type = self._qname(node.get("type", ""))
        for child in node:
            if _local_tag(child) == "simpleType":
                attr_type = self._simple_type(child, None)
        if node.get("use") == "prohibited":
            raise SchemaError(f"{self.path}: prohibited attributes are not supported")
        return AttributeUse(name=name, type=attr_type, required=node.get("use") == "required")

    def _particle(self, node: ET.Element) -> Particle:
        tag = _local_tag(node)
        particle = Particle(kind=tag, min=int(node.get("minOccurs", "1")), max=_max_occurs(node))
        if tag == "element":
            if node.get("ref"):
                particle.ref = self._qname(node.get("ref", ""))
            else:
                particle.element = self._element(node, is_global=False)
            return particle
        if tag == "any":
            particle.namespace = node.get("namespace", "##any")
            return particle
        if tag not in ("sequence", "choice"):
            raise SchemaError(f"{self.path}: unsupported particle xs:{tag}")
        for child in node:
            if _local_tag(child) != "annotation":
                particle.children.append(self._particle(child))
        return particle

    def _simple_type(self, node: ET.Element, name: QName | None) -> SimpleTypeDef:
        for child in node:
            tag = _local_tag(child)
            if tag == "annotation":
                continue
            if tag != "restriction":
                raise SchemaError(f"{self.path}: unsupported xs:{tag} in simple type {name}")
            stype = SimpleTypeDef(name=name, base=None)
            if child.get("base"):
                stype.base = self._qname(child.get("base", ""))
            for facet in child:
                ftag = _local_tag(facet)
                if ftag == "annotation":
                    continue
                if ftag == "simpleType":
                    stype.base = self._simple_type(facet, None)
                elif ftag == "enumeration":
                    stype.enumeration.append(facet.get("value", ""))
                elif ftag == "pattern":
                    raise SchemaError(f"{self.path}: pattern facets (restricted character sets) are not supported")
                else:
                    stype.facets[ftag] = facet.get("value", "")
            return stype
        raise SchemaError(f"{self.path}: empty simple type {name}")


def _local_tag(node: ET.Element) -> str:
    if not node.tag.startswith(f"{{{XS}}}"):
        raise SchemaError(f"unexpected non-schema element {node.tag}")
    return node.tag.split("}", 1)[1]


def _max_occurs(node: ET.Element) -> int:
    text = node.get("maxOccurs", "1")
    return UNBOUNDED if text == "unbounded" else int(text)
