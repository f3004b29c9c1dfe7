"""Reading a document into its Struct (core/models.py, core/handoffs.py): msgspec converts what is valid at
C speed; a document it refuses, or cannot be sure of (a coercion pydantic makes), goes to the pydantic
models of core/explain.py, which accept it the same way or name each problem. pydantic is imported only
then: a valid project never pays for it."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from agentfiles.core.fields import Strict
from agentfiles.core.handoffs import Handoff, handoff_data
from agentfiles.core.models import Role, Task
from agentfiles.core.rules import role_data, task_data

S = TypeVar("S", bound=Strict)

# What pydantic's before-validators do to a document, done before msgspec reads it.
_PREPARE = {Task: task_data, Role: role_data, Handoff: handoff_data}


def parse(cls: type[S], data: Any) -> S:
    """`data` (a document's mapping) as a `cls`; core.diagnostics.Invalid, with every problem pydantic finds
    in it, when it is not one."""
    prepare = _PREPARE.get(cls)
    try:
        result = msgspec.convert(prepare(data) if prepare and isinstance(data, dict) else data, cls)
    except (msgspec.ValidationError, ValueError, TypeError):
        from agentfiles.core.explain import explain

        result = explain(cls, data)
    if cls is Task and isinstance(data, dict):
        result.__dict__["given"] = frozenset(data)  # type: ignore[attr-defined]
    return result
