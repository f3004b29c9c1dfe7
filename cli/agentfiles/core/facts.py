"""The facts that decide task state, as plain data: what each task declares and what each handoff
recorded. They are extracted once from the validated models and can be cached as JSON, so that a
warm `agents status` needs neither YAML parsing nor pydantic."""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any

from agentfiles.core.records import record

if TYPE_CHECKING:
    from agentfiles.core.handoffs import Handoff
    from agentfiles.core.models import Task
    from agentfiles.core.project import Project


@record
class TaskFacts:
    """What decides a task's state, from its definition: what it needs, reads and writes, and its digest."""

    id: str
    needs: list[str]
    inputs: list[list[str]]  # ["path", "docs/*.md"] or ["handoff", "api-design"]
    outputs: list[str]
    definition: str
    command: bool
    item: str | None = None  # set on one item of a foreach task
    family: bool = False  # a foreach task itself: it needs its items and never runs
    invalid: str | None = None  # why the task cannot be used (its file, handoff or role failed to load)
    parts: dict[str, str] = field(default_factory=dict)  # the definition's parts (core/fingerprint.py)
    role: str | None = None  # the role and model a run would have now, to name a changed part
    model: str | None = None
    config_keys: list[str] = field(default_factory=list)  # the settings it takes from .agents/config.yaml

    def to_json(self) -> list[Any]:
        return [
            self.id, self.needs, self.inputs, self.outputs, self.definition, self.command, self.item, self.family,
            self.invalid, self.parts, self.role, self.model, self.config_keys,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> TaskFacts:
        return cls(*data)


@record
class HandoffFacts:
    """What decides a task's state, from its last handoff: the run, its status, what it read and wrote."""

    run: str
    status: str
    definition: str | None
    inputs: dict[str, str]
    outputs: dict[str, str]
    upstream: dict[str, str]
    body_digest: str
    failure: str | None = None  # "kind: detail"
    review_rejected: str | None = None  # the reason, "" when none was given
    failed_criteria: list[str] = field(default_factory=list)
    isolation: str | None = None  # how the run's processes were confined: os | folder
    parts: dict[str, str] = field(default_factory=dict)  # what its definition was made of
    model: str | None = None
    deleted: list[str] = field(default_factory=list)  # files under its output globs it deleted

    def to_json(self) -> list[Any]:
        return [
            self.run,
            self.status,
            self.definition,
            self.inputs,
            self.outputs,
            self.upstream,
            self.body_digest,
            self.failure,
            self.review_rejected,
            self.failed_criteria,
            self.isolation,
            self.parts,
            self.model,
            self.deleted,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> HandoffFacts:
        return cls(*data)


@record
class Facts:
    """The facts of every task and handoff of a project (what the status index keeps)."""

    tasks: dict[str, TaskFacts]
    handoffs: dict[str, HandoffFacts]
    foreach: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # task -> (glob, items)

    def to_json(self) -> dict[str, Any]:
        return {
            "tasks": [t.to_json() for t in self.tasks.values()],
            "handoffs": {k: h.to_json() for k, h in self.handoffs.items()},
            "foreach": {k: [g, items] for k, (g, items) in self.foreach.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Facts:
        tasks = [TaskFacts.from_json(t) for t in data["tasks"]]
        return cls(
            {t.id: t for t in tasks},
            {k: HandoffFacts.from_json(h) for k, h in data["handoffs"].items()},
            {k: (g, items) for k, (g, items) in data.get("foreach", {}).items()},
        )


def _inputs(task: Task) -> list[list[str]]:
    return [["handoff", s.handoff] if s.handoff else ["path", str(s.path)] for s in task.inputs]


def facts_of(project: Project) -> Facts:
    """Extract the state-deciding facts from a loaded project (foreach tasks expanded into their items)."""
    tasks: dict[str, TaskFacts] = {}
    foreach: dict[str, tuple[str, list[str]]] = {}
    for task_id in [*project.broken_tasks, *project.tasks]:
        found, family = task_facts(project, task_id)
        tasks.update((f.id, f) for f in found)
        if family is not None:
            foreach[task_id] = family
    handoffs = {task_id: handoff_facts(entry.model, entry.body) for task_id, entry in project.handoffs.items()}
    return Facts(tasks, handoffs, foreach)


def task_facts(project: Project, task_id: str) -> tuple[list[TaskFacts], tuple[str, list[str]] | None]:
    """The facts of one task (of each item and the family, for a foreach task), and its (glob, items)."""
    from agentfiles.core.definition import definition_of
    from agentfiles.core.foreach import item_task, items_of, step_id

    invalid = project.invalid_reason(task_id)
    entry = project.tasks.get(task_id)
    if entry is None or invalid is not None:
        needs = list(entry.model.needs) if entry else list(project.broken_tasks.get(task_id, []))
        command = entry.model.is_command if entry else False
        return [TaskFacts(task_id, needs, [], [], "", command, invalid=invalid or "cannot be loaded")], None
    task = entry.model
    if not task.foreach:
        made = definition_of(project, task_id)
        return [TaskFacts(task_id, list(task.needs), _inputs(task), list(task.outputs), made.digest, task.is_command,
                          parts=made.parts, role=made.role, model=made.model, config_keys=made.config_keys)], None
    items = items_of(project.layout.root, task.foreach)
    found = []
    for item in items:
        one = item_task(task, item)
        made = definition_of(project, task_id, item)
        found.append(TaskFacts(step_id(task_id, item), list(task.needs), _inputs(one), list(one.outputs), made.digest,
                               task.is_command, item=item, parts=made.parts, role=made.role, model=made.model,
                               config_keys=made.config_keys))
    found.append(TaskFacts(task_id, [f.id for f in found], [], [], "", task.is_command, family=True))
    return found, (task.foreach, items)


def handoff_facts(h: Handoff, body: str) -> HandoffFacts:
    from agentfiles.core.fingerprint import handoff_digest

    failure = f"{h.failure.kind}: {h.failure.detail}".rstrip(": ") if h.failure else None
    review = None
    if h.review is not None and h.review.state == "rejected":
        review = h.review.reason or ""
    failed = [c.criterion for c in h.verification.checks if c.verdict == "fail"] if h.verification else []
    return HandoffFacts(
        run=h.run,
        status=h.status,
        definition=h.definition,
        inputs=dict(h.inputs),
        outputs=dict(h.outputs),
        upstream=dict(h.upstream),
        body_digest=handoff_digest(body),
        failure=failure,
        review_rejected=review,
        failed_criteria=failed,
        isolation=h.isolation,
        parts={str(part): digest for part, digest in h.definition_parts.items()},
        model=h.model,
        deleted=list(h.deleted),
    )
