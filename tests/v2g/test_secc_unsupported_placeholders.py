"""The placeholders in a refusal of a request we never serve are the smallest values the schema's facets allow,
as unsupported.py promises: one entry where a list needs one (more only where the facet asks), 0 where a range
admits it (else its nearest end), the shortest string ("Z" repeated) or byte string (zeros), False, the first
enumeration value, and of each choice group exactly one member (issue 19's surviving mutants of
handlers/unsupported.py: every one of them put other bytes on the wire)."""
from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing

import pytest

from controller.v2g.secc.context import MESSAGE_TYPES
from controller.v2g.secc.handlers.unsupported import placeholder, respond, response_name
from tests.v2g.test_secc_unsupported import REFUSED

pytestmark = pytest.mark.timeout(30)


def _bare(hint):
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint


def _check_value(value, hint, metadata, where: str) -> None:
    if typing.get_origin(hint) is list:
        low = (metadata.get("count") or (1, None))[0] or 1
        assert isinstance(value, list) and len(value) == low, where
        for i, item in enumerate(value):
            _check_value(item, typing.get_args(hint)[0], {}, f"{where}[{i}]")
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        assert value is next(iter(hint)), where
    elif hint is bool:
        assert value is False, where
    elif hint is int:
        low, high = metadata.get("range", (None, None))
        expected = 0 if low is None or low <= 0 else low
        expected = expected if high is None or expected <= high else high
        assert value == expected and type(value) is int, where
    elif hint is float:
        assert value == 0.0, where
    elif hint is str:
        assert value == "Z" * ((metadata.get("length") or (0, None))[0] or 0), where
    elif hint is bytes:
        assert value == bytes((metadata.get("length") or (0, None))[0] or 0), where
    else:
        assert dataclasses.is_dataclass(hint), where
        check_minimal(value, where)


def check_minimal(instance, where: str, given: frozenset = frozenset()) -> None:
    cls = type(instance)
    names = vars(sys.modules[cls.__module__])
    hints = typing.get_type_hints(cls, names, names)
    groups: dict[str, int] = {}
    for fld in dataclasses.fields(cls):
        value = getattr(instance, fld.name)
        choice = fld.metadata.get("choice")
        optional = fld.default is None or fld.default_factory is not dataclasses.MISSING
        is_set = value is not None and value != [] if optional else True
        if choice is not None:
            groups[choice] = groups.get(choice, 0) + bool(is_set)
        elif optional:
            assert not is_set or fld.name in given, f"{where}.{fld.name}: an optional field filled in"
        if is_set and fld.name not in given:
            _check_value(value, _bare(hints[fld.name]), fld.metadata, f"{where}.{fld.name}")
    assert all(count == 1 for count in groups.values()), f"{where}: choice groups {groups}"


@pytest.mark.parametrize("schema, kind", REFUSED)
def test_a_refusals_placeholders_are_the_smallest_the_schema_allows(schema, kind):
    module = MESSAGE_TYPES[schema]
    code = module.ResponseCode.FAILED_SequenceError
    response = respond(SimpleContext(module), None, code, response=response_name(kind))
    assert response.ResponseCode is code
    check_minimal(response, response_name(kind), given=frozenset({"ResponseCode"}))


def test_a_type_nested_deeper_than_the_bound_is_refused_with_its_name():
    @dataclasses.dataclass
    class Leaf:
        value: int = dataclasses.field(metadata={"range": (3, 9)})

    assert placeholder(Leaf, sys.modules[__name__]).value == 3
    with pytest.raises(ValueError, match="Leaf: nesting too deep"):
        placeholder(Leaf, sys.modules[__name__], depth=7)
    assert placeholder(Leaf, sys.modules[__name__], depth=6).value == 3  # the bound itself is allowed


class SimpleContext:
    def __init__(self, module):
        self.types = module


BODIES = [(schema, fld.name) for schema, module in sorted(MESSAGE_TYPES.items())
          for fld in dataclasses.fields(module.Body)]


@pytest.mark.parametrize("schema, name", BODIES)
def test_every_message_type_gets_the_smallest_placeholder(schema, name):
    """The same rules on every message of both schemas (lists, choice groups, ranges and lengths the refusals
    above do not all have): a new refusal in a future schema version gets them too."""
    module = MESSAGE_TYPES[schema]
    names = vars(module)
    cls = _bare(typing.get_type_hints(module.Body, names, names)[name])
    check_minimal(placeholder(cls, module), name)
