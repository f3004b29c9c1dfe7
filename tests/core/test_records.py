"""`@record` (core/records.py) behaves as `@dataclass` does: the same repr, equality and hashing, each class
declared both ways side by side. (What it saves, a third of the time of making each class, is measured
with the imports of a run in docs/benchmarks.md, not here.)"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from agentfiles.core.records import record


def both(body: dict[str, Any], annotations: dict[str, str], base: tuple[type, ...] = ()) -> tuple[type, type]:
    """The class of `body` made by @dataclass and by @record (same name, for the same repr)."""
    made = []
    for decorate in (dataclass, record):
        namespace = {"__annotations__": dict(annotations), **body}
        made.append(decorate(type("Thing", base, namespace)))
    return made[0], made[1]


CASES = [
    ({}, {}, [()]),
    ({}, {"a": "int"}, [(1,), (2,)]),
    ({"b": "x"}, {"a": "int", "b": "str"}, [(1,), (1, "y"), (2, "x")]),
    ({"c": field(default_factory=list, repr=False)}, {"a": "int", "c": "list"}, [(1,), (1, [1]), (1, [2])]),
    ({"d": field(default=0, compare=False)}, {"a": "int", "d": "int"}, [(1, 0), (1, 5), (2, 5)]),
    ({"e": None}, {"a": "Any", "e": "Any"}, [("s",), (1.5, {"k": [1]}), (None, (1, 2))]),
]


@pytest.mark.parametrize(("body", "annotations", "values"), CASES)
def test_a_record_is_what_a_dataclass_is(body: dict[str, Any], annotations: dict[str, str],
                                          values: list[tuple[Any, ...]]) -> None:
    plain, rec = both(body, annotations)
    assert [f.name for f in dataclasses.fields(rec)] == [f.name for f in dataclasses.fields(plain)]
    for one in values:
        assert repr(rec(*one)) == repr(plain(*one))
        for other in values:
            assert (rec(*one) == rec(*other)) == (plain(*one) == plain(*other))
            assert (rec(*one) != rec(*other)) == (plain(*one) != plain(*other))
        assert rec(*one).__eq__(plain(*one)) is NotImplemented  # another class: not equal, as a dataclass
        assert rec(*one) != object()
        with pytest.raises(TypeError):
            hash(rec(*one))
        with pytest.raises(TypeError):
            hash(plain(*one))
        assert dataclasses.asdict(rec(*one)) == dataclasses.asdict(plain(*one))


def test_a_record_holding_itself_and_a_subclass() -> None:
    plain, rec = both({"items": field(default_factory=list)}, {"items": "list"})
    p, r = plain(), rec()
    p.items.append(p)
    r.items.append(r)
    assert repr(r) == repr(p) == "Thing(items=[...])"
    child_plain = dataclass(type("Child", (plain,), {"__annotations__": {"n": "int"}, "n": 0}))
    child_rec = record(type("Child", (rec,), {"__annotations__": {"n": "int"}, "n": 0}))
    assert repr(child_rec([1], 2)) == repr(child_plain([1], 2)) == "Child(items=[1], n=2)"
    assert child_rec([1], 2) == child_rec([1], 2) and child_rec([1], 2) != rec([1])


def test_a_record_that_defines_its_hash_keeps_it() -> None:
    def hashed(self: Any) -> int:
        return 7

    plain, rec = both({"__hash__": hashed}, {"a": "int"})
    assert hash(rec(1)) == hash(plain(1)) == 7
