"""What a run of a step is defined by, now: the task (or one item of a foreach task), its role's fields and
prompt, the model and the config settings it takes (core/fingerprint.py hashes them). Read by the facts
a status derives (core/facts.py) and by the runner when it records a step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentfiles.core.fingerprint import definition_with_parts
from agentfiles.core.records import record

if TYPE_CHECKING:
    from agentfiles.core.models import Role, Task
    from agentfiles.core.project import Project


def role_for(project: Project, task_id: str, routed: str | None = None) -> Role | None:
    """The role whose prompt a task's definition includes: named, or the one routing chose (`routed`,
    while the step runs; afterwards the one its handoff records)."""
    task = project.tasks[task_id].model
    name = task.role or routed
    if name is None:
        handoff = project.handoffs.get(task_id)
        name = handoff.model.role if handoff else None
    entry = project.roles.get(name) if name else None
    return entry.model if entry else None


@record
class Definition:
    """What a run of a step would record as its definition now: the digest and its parts (core/fingerprint.py),
    with the names a changed part is reported by."""

    digest: str
    parts: dict[str, str]
    role: str | None
    model: str | None
    config_keys: list[str]  # the settings the step takes from .agents/config.yaml


def current_definition(project: Project, task_id: str, item: str | None = None, routed: str | None = None) -> str:
    """The definition digest a run of this task (or of one item of a foreach task) would record now."""
    return definition_of(project, task_id, item, routed).digest


def definition_of(project: Project, task_id: str, item: str | None = None, routed: str | None = None) -> Definition:
    """The definition of a run of this task (or of one item of a foreach task) now, with its parts."""
    from agentfiles.core.foreach import item_task, substitute

    entry = project.tasks[task_id]
    role = role_for(project, task_id, routed)
    role_entry = project.roles.get(role.name) if role else None
    task, intent = entry.model, entry.body
    if item is not None:
        task, intent = item_task(task, item), substitute(intent, item)
    prompt = role_entry.body if role_entry else ""
    model = project.model_of(entry.model, role)
    config = {} if task.is_command else config_settings(project, task, role)
    digest, parts = definition_with_parts(task, intent, role, prompt, model, config)
    return Definition(
        digest,
        parts,
        None if task.is_command or role is None else role.name,
        None if task.is_command else model,
        [] if task.is_command else sorted(config),
    )


def config_settings(project: Project, task: Task, role: Role | None) -> dict[str, object]:
    """The settings of .agents/config.yaml that shape a model step's request and that neither the task nor
    its role sets: `max_turns` (the bound of its loop) and `budget.output_tokens` (its `max_tokens`)."""
    config = project.config
    extras = role.agents if role is not None else None
    found: dict[str, object] = {}
    if not (task.max_turns or (extras and extras.max_turns) or (role and role.maxTurns)):
        found["max_turns"] = config.max_turns
    own = [b.output_tokens for b in (task.budget, extras.budget if extras else None) if b is not None]
    if not any(own):
        found["budget.output_tokens"] = config.budget.output_tokens
    return found
