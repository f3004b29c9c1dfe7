"""The checker the semantic checks of a project share: the problems found so far, how one is noted (its
line looked up only then), and what the graph and the declared outputs say about a task."""

from __future__ import annotations

from typing import Any, Union

from agentfiles.core.diagnostics import Diagnostic
from agentfiles.core.graph import OutputIndex, TaskGraph
from agentfiles.core.paths import has_glob
from agentfiles.core.project import Entry, Project
from agentfiles.core.typos import did_you_mean

# Where a problem is: a line, or the key path of the value (`("inputs", 2)`), looked up only when a
# problem is found (finding a line parses the file's YAML again: too slow to do for every value).
Where = Union[int, tuple, None]


def _line(entry: Entry[Any] | None, where: Where) -> int | None:
    if isinstance(where, tuple):
        return entry.line(*where) if entry is not None else None
    return where


def item_of(key: str, value: object, index: int) -> tuple[str | int, ...]:
    """Where the `index`th name of a value that is a name or a list of names is: its item, or the key."""
    return (key, index) if isinstance(value, list) else (key,)


class Checker:
    """The problems found in one project so far; core/validation.py's checker is made of its subclasses."""

    def __init__(self, project: Project, graph: TaskGraph, warnings: bool = True) -> None:
        self.project = project
        self.graph = graph
        self.warnings = warnings
        self.found: list[Diagnostic] = []
        self.known_tasks = set(project.tasks) | set(project.broken_tasks)
        self.known_roles = set(project.roles) | project.broken_roles
        self.outputs = OutputIndex({t: e.model for t, e in project.tasks.items()})

    def error(self, entry: Entry[Any] | None, line: Where, message: str, hint: str) -> None:
        self.found.append(Diagnostic("error", message, entry.path if entry else None, _line(entry, line), hint))

    def warning(self, entry: Entry[Any] | None, line: Where, message: str, hint: str) -> None:
        if self.warnings:
            self.found.append(Diagnostic("warning", message, entry.path if entry else None, _line(entry, line), hint))

    def unknown(self, kind: str, name: str, known: set[str], where: str = "") -> str:
        guess = did_you_mean(name, known)
        text = f"unknown {kind} '{name}'" + (f" {where}" if where else "")
        return text + (f" - did you mean '{guess}'?" if guess else "")

    def _requires(self, task_id: str, other: str) -> bool:
        return other == task_id or self.graph.requires(task_id, other)

    def _covering(self, path: str) -> list[tuple[str, str]]:
        """Other tasks' outputs an input covers; a file of the repository has nothing under it."""
        return self.outputs.covering(path, folder=has_glob(path) or not (self.project.layout.root / path).is_file())
