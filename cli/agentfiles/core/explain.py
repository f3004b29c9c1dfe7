"""The slow path of core/schema.py: a document the Structs refused is validated by its pydantic model
(core/explain_models.py, core/explain_handoffs.py), whose errors become the problems users read, each
at its place in the document. A document pydantic accepts after all (`jobs: "4"`, a bool where a number
goes) is taken as pydantic reads it."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from agentfiles.core import explain_handoffs, explain_models, handoffs, models
from agentfiles.core.diagnostics import FieldProblem, Invalid, Loc, format_loc
from agentfiles.core.fields import Strict
from agentfiles.core.typos import did_you_mean

_STRUCTS = {name: kind for module in (models, handoffs) for name, kind in vars(module).items()
            if isinstance(kind, type) and issubclass(kind, Strict) and kind is not Strict}


def explainer(cls: type[Strict]) -> type[BaseModel]:
    """The pydantic model of the Struct `cls`."""
    return getattr(explain_models, cls.__name__, None) or getattr(explain_handoffs, cls.__name__)


def explain(cls: type[Strict], data: Any) -> Any:
    """`data` validated by the pydantic model of `cls`: as a `cls`, or Invalid naming every problem."""
    model = explainer(cls)
    try:
        valid = model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(problems_from(model, exc)) from None
    return _struct(valid)


def _struct(value: Any) -> Any:
    """A value pydantic validated, with its models as the Structs of the same names."""
    if isinstance(value, BaseModel):
        kind = _STRUCTS[type(value).__name__]
        return kind(**{name: _struct(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return [_struct(v) for v in value]
    if isinstance(value, dict):
        return {k: _struct(v) for k, v in value.items()}
    return value


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping found at `loc`, if there is one."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        models = _models_in(field.annotation)
        current = models[0] if models else None
    return current


def problems_from(model: type[BaseModel], error: ValidationError) -> list[FieldProblem]:
    """Plain-language problems for a pydantic ValidationError raised by `model`."""
    problems: list[FieldProblem] = []
    for item in error.errors(include_url=False):
        loc: Loc = tuple(item["loc"])
        kind = item["type"]
        where = format_loc(loc[:-1])
        prefix = f"{where}: " if where else ""
        if kind == "extra_forbidden":
            key = str(loc[-1])
            owner = _model_at(model, loc[:-1])
            keys = _keys_of(owner) if owner else []
            guess = did_you_mean(key, keys)
            if guess:
                message = f"{prefix}unknown key '{key}' - did you mean '{guess}'?"
            elif keys:
                message = f"{prefix}unknown key '{key}' (valid keys: {', '.join(keys)})"
            else:
                message = f"{prefix}unknown key '{key}'"
            problems.append(FieldProblem(loc, message, key_error=True))
        elif kind == "missing":
            problems.append(FieldProblem(loc[:-1], f"{prefix}missing required key '{loc[-1]}'"))
        elif kind == "string_pattern_mismatch" and "sha256" in str(item.get("ctx", {}).get("pattern", "")):
            target = format_loc(loc)
            shown = _short_repr(item.get("input"))
            problems.append(FieldProblem(loc, f"{target}: a hash is written sha256:<64 lowercase hex digits> (got {shown})"))
        elif kind == "value_error":
            text = str(item["msg"]).removeprefix("Value error, ")
            target = format_loc(loc)
            problems.append(FieldProblem(loc, f"{target}: {text}" if target else text))
        else:
            target = format_loc(loc) or "document"
            msg = str(item["msg"])
            msg = msg[0].lower() + msg[1:] if msg else msg
            shown = _short_repr(item.get("input"))
            problems.append(FieldProblem(loc, f"{target}: {msg} (got {shown})"))
    return problems


def _short_repr(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
