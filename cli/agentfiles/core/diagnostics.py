"""Diagnostics: one problem in one file at one line, and the translation of pydantic errors into them."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, ValidationError

from agentfiles.core.typos import did_you_mean

Severity = Literal["error", "warning"]
Loc = tuple[Union[str, int], ...]


@dataclass(frozen=True)
class Diagnostic:
    """A problem found in the project's files; errors make `agents validate` exit 2, warnings do not."""

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    @property
    def where(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}: " if self.line else f"{self.file}: "

    def render(self) -> str:
        text = f"{self.severity}: {self.where}{self.message}"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }

    def sort_key(self) -> tuple[str, int, str]:
        return (self.file or "", self.line or 0, self.message)


@dataclass(frozen=True)
class FieldProblem:
    """A schema problem at a location inside a document, before it is given a line."""

    loc: Loc
    message: str
    key_error: bool = False  # the location names a key that is present but wrong (unknown key)


def format_loc(loc: Loc) -> str:
    """`inputs[2].view`, `outputs['out/a.txt']`; a mapping key's own problems end in ` (key)`."""
    text = ""
    for part in loc:
        if part == "[key]":
            text += " (key)"
        elif isinstance(part, int):
            text += f"[{part}]"
        elif not part.isidentifier():
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return text


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

