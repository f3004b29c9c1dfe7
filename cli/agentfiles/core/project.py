"""A loaded project: the config, roles, tasks and handoffs of one repository, with where each came from."""

from __future__ import annotations

from dataclasses import field
from typing import Callable, Generic, TypeVar

from agentfiles.core.diagnostics import Diagnostic, Loc
from agentfiles.core.fields import as_names
from agentfiles.core.handoffs import Handoff
from agentfiles.core.models import Config, Role, Task
from agentfiles.core.paths import Layout
from agentfiles.core.records import record

LEFT_OUT = "; this Claude Code subagent is left out"  # said of a file of .claude/agents/ that did not load

M = TypeVar("M")


@record
class Entry(Generic[M]):
    """One parsed file: its model, its body text, its repo-relative path and a way to find lines in it."""

    model: M
    body: str
    path: str
    locate: Callable[[Loc], int] = field(repr=False, default=lambda loc: 1)
    origin: str = ""  # for roles: ".agents/roles" or ".claude/agents"

    def line(self, *loc: str | int) -> int:
        return self.locate(tuple(loc))


_DOCUMENT_FOLDERS = (".agents/tasks/", ".agents/handoffs/", ".agents/roles/", ".claude/agents/")


def _in_one_document(rel: str | None) -> bool:
    return bool(rel) and rel.startswith(_DOCUMENT_FOLDERS) and rel.count("/") == 2  # type: ignore[union-attr]


@record
class Project:
    """A loaded project: its layout, config, roles, tasks and handoffs, and what could not be loaded."""

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
    # Every task id in the project, where only some tasks were read (the status index re-reads the
    # changed files only): a handoff input naming a task that was not read still names a task.
    task_ids: frozenset[str] | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    @property
    def fatal(self) -> list[Diagnostic]:
        """Load errors no command can work around: in the config, or in the layout itself. An error in
        one task, role or handoff file leaves the rest of the project usable."""
        return [d for d in self.errors if not _in_one_document(d.file)]

    def problem_of(self, rel: str) -> Diagnostic | None:
        """The first load error of one file, if it could not be loaded."""
        return next((d for d in self.errors if d.file == rel), None)

    def role_problem(self, name: str) -> tuple[str, str, str | None]:
        """Why a role that did not load is missing: `was left out` (a Claude Code subagent agents skipped
        with a warning) or `cannot be loaded`; where and why (empty when no problem names its file); its hint."""
        files = (f".claude/agents/{name}.md", f".agents/roles/{name}.md")
        found = [d for d in self.diagnostics if d.file in files]
        problem = next((d for d in found if d.severity == "error"), found[0] if found else None)
        if problem is None:
            return "cannot be loaded", "", None
        verb = "was left out" if problem.severity == "warning" else "cannot be loaded"
        return verb, f"{problem.where}{problem.message.removesuffix(LEFT_OUT)}", problem.hint

    def invalid_reason(self, task_id: str) -> str | None:
        """Why a task cannot be used as it is: its file, its handoff or its named role failed to load."""
        if task_id in self.broken_tasks:
            problem = self.problem_of(f".agents/tasks/{task_id}.md")
            return f"{problem.where}{problem.message}" if problem else "the task file cannot be loaded"
        handoff = self.problem_of(f".agents/handoffs/{task_id}.md") if self.diagnostics else None
        if handoff is not None:
            return f"its handoff cannot be loaded: {handoff.where}{handoff.message}"
        entry = self.tasks.get(task_id)
        role = entry.model.role if entry else None
        if role and role in self.broken_roles and role not in self.roles:
            verb, why, _ = self.role_problem(role)
            return f"role '{role}' {verb}: {why}" if why else f"role '{role}' {verb} (`agents roles` says why)"
        if role and role not in self.roles and not entry.model.is_command:  # type: ignore[union-attr]
            return f"unknown role '{role}' (`agents validate` says more)"
        for spec in entry.model.inputs if entry else []:
            if spec.handoff and not self._is_task(spec.handoff.split("@", 1)[0]):
                return f"input handoff:{spec.handoff} names no task (`agents validate` says more)"
        return None

    def _is_task(self, task_id: str) -> bool:
        if self.task_ids is not None:
            return task_id in self.task_ids
        return task_id in self.tasks or task_id in self.broken_tasks

    def limits_for_no_model(self) -> list[Diagnostic]:
        """Warnings for `api.limits` entries that name no model of the project (a typo: `sonet`), which limit
        nothing. Not errors: model ids are open-ended, and a limit may be set before a role uses its model."""
        from agentfiles.core.models import DEFAULT_MODELS, DEFAULT_PRICES
        from agentfiles.core.typos import did_you_mean

        config, entry = self.config, self.config_entry
        if entry is None or self.task_ids is not None:  # not every task was read: their models are unknown
            return []
        named = [config.model, *(e.model.model for e in self.roles.values()), *(e.model.model for e in self.tasks.values())]
        known = {"default", *DEFAULT_MODELS, *DEFAULT_MODELS.values(), *config.models, *config.models.values(),
                 *DEFAULT_PRICES, *config.prices, *(n for n in named if n), *(config.resolve_model(n) for n in named if n)}
        found = []
        for name in config.api.limits:
            if name not in known:
                guess = did_you_mean(name, sorted(known))
                found.append(Diagnostic(
                    "warning", f"api.limits: no model of the project is called '{name}'"
                    + (f" - did you mean '{guess}'?" if guess else ""), entry.path, entry.line("api", "limits", name),
                    "name a model id or alias (opus, sonnet, haiku, one of `models:`) the roles, tasks or config use, "
                    "or `default` for every other model"))
        return found

    def doer_role(self, task: Task) -> str | None:
        """The role that carries out a task when it is named (not selected by labels)."""
        return task.role

    def verifier_of(self, task: Task) -> str | None:
        """The verifier role of a task with prose criteria (the first judge of a panel): the task's own, else
        the config default."""
        found = self.verifiers_of(task)
        return found[0] if found else None

    def verifiers_of(self, task: Task) -> list[str]:
        """Every judge of a task: its own `verifier:` role or panel, else (with prose criteria) the config's."""
        if not task.prose_criteria or task.verifier is not None:
            return task.verifiers
        return as_names(self.config.verifier)

    def model_of(self, task: Task, role: Role | None) -> str:
        return self.config.resolve_model(task.model or (role.model if role else None))
