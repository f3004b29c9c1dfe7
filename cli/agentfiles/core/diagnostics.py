"""Diagnostics: one problem in one file at one line; a schema problem inside a document before it has a
line (core/explain.py makes them from pydantic's errors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Union

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


class Invalid(ValueError):
    """A document that is not valid (core/schema.py), with each problem at its place in the document."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


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


class DocumentError(Exception):
    """A document that cannot be parsed; `line` is 1-based in the file."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
