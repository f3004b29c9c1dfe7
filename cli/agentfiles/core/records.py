"""`@record`: a dataclass whose `__repr__` and `__eq__` are shared by every record instead of compiled for each
class. Python 3.11's dataclasses compiles each generated method from source with `exec` as the class is made:
the repr and the eq are about half of a class's cost (0.4 of 0.8 ms here), paid by every command that imports
it (a run imports about forty). They behave as the generated ones: the same text (`Name(a=1, b='x')`, fields
with `repr=False` left out, a record that holds itself shown as `...`), equal when of the same class with
equal compared fields, and not hashable (a class that defines `__hash__` keeps its own). Frozen dataclasses,
which hash by their fields, stay plain `@dataclass(frozen=True)`."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is self.__class__:
        compared = [f.name for f in fields(self) if f.compare]
        return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)
    return NotImplemented


def record(cls: type[T]) -> type[T]:
    """`@dataclass` (no options), with the shared `__repr__` and `__eq__`."""
    explicit_hash = "__hash__" in cls.__dict__
    made = dataclass(cls, repr=False, eq=False)
    made.__repr__ = _repr  # type: ignore[assignment]
    made.__eq__ = _eq  # type: ignore[assignment,method-assign]
    if not explicit_hash:
        made.__hash__ = None  # type: ignore[assignment]
    return made
