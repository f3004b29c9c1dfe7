"""A loaded project: the config, roles, tasks and handoffs of one repository, with where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

from agentfiles.core.diagnostics import Diagnostic, Loc
from agentfiles.core.models import Config, Handoff, Role, Task
from agentfiles.core.paths import Layout

M = TypeVar("M")


@dataclass
class Entry(Generic[M]):
    """One parsed file: its model, its body text, its repo-relative path and a way to find lines in it."""

    model: M
    body: str
    path: str
    locate: Callable[[Loc], int] = field(repr=False, default=lambda loc: 1)
    origin: str = ""  # for roles: ".agents/roles" or ".claude/agents"

    def line(self, *loc: str | int) -> int:
        return self.locate(tuple(loc))


@dataclass
class Project:
    layout: Layout
    config: Config
    config_entry: Entry[Config] | None
    roles: dict[str, Entry[Role]] = field(default_factory=dict)
    tasks: dict[str, Entry[Task]] = field(default_factory=dict)
    handoffs: dict[str, Entry[Handoff]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Files that could not be loaded: their ids stay known (validation must not call them unknown), and
    # a broken task's `needs`, when readable, still count for finding cycles.
    broken_tasks: dict[str, list[str]] = field(default_factory=dict)
    broken_roles: set[str] = field(default_factory=set)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def doer_role(self, task: Task) -> str | None:
        """The role that carries out a task when it is named (not selected by labels)."""
        return task.role

    def verifier_of(self, task: Task) -> str | None:
        """The verifier role of a task with prose criteria: the task's own, else the config default."""
        if not task.prose_criteria:
            return task.verifier
        return task.verifier or self.config.verifier

    def model_of(self, task: Task, role: Role | None) -> str:
        return self.config.resolve_model(task.model or (role.model if role else None))
