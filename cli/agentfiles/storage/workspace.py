"""A project opened from disk for a command: its files loaded, its graph built, its files hashed on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agentfiles.core.diagnostics import Diagnostic
from agentfiles.core.fingerprint import FileHasher, digest_file
from agentfiles.core.graph import TaskGraph
from agentfiles.core.paths import find_project_root
from agentfiles.core.project import Project
from agentfiles.core.state import TaskState, derive_states
from agentfiles.core.validation import validate_project
from agentfiles.errors import ConventionError
from agentfiles.storage.project import load_project


@dataclass
class Workspace:
    project: Project
    graph: TaskGraph
    _states: dict[str, TaskState] | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        return self.project.layout.root

    def hasher(self) -> FileHasher:
        root = self.root
        return lambda rel: digest_file(root / rel)

    def require_loaded(self) -> None:
        """Raise when a file could not be loaded at all: a command must not act on half a project."""
        errors = self.project.errors
        if errors:
            raise ConventionError(
                f"{len(errors)} problem(s) in the project's files",
                diagnostics=errors,
                hint="fix them; `agents validate` lists every problem",
            )

    def validate(self) -> list[Diagnostic]:
        return validate_project(self.project, self.graph)

    def states(self) -> dict[str, TaskState]:
        if self._states is None:
            self._states = derive_states(self.project, self.graph, self.hasher())
        return self._states


def open_workspace(directory: Path) -> Workspace:
    project = load_project(find_project_root(directory))
    graph = TaskGraph.build({t: e.model for t, e in project.tasks.items()})
    return Workspace(project, graph)
