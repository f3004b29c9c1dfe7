"""Which step a step id names: a plain task, or one item of a foreach task with its placeholders filled
in; and the runs of the tasks it needs, as its handoff records them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentfiles.core.models import Task
    from agentfiles.core.project import Project


@dataclass
class ResolvedStep:
    """A step as it runs: a plain task, or one item of a foreach task with its placeholders filled in."""

    step_id: str
    task_id: str
    item: str | None
    task: Task
    intent: str


def resolve_step(project: Project, step_id: str) -> ResolvedStep:
    from agentfiles.core.foreach import family_of, item_slug, item_task, items_of, substitute

    task_id = family_of(step_id)
    entry = project.tasks[task_id]
    if step_id == task_id:
        return ResolvedStep(step_id, task_id, None, entry.model, entry.body)
    slug = step_id.split("@", 1)[1]
    items = items_of(project.layout.root, entry.model.foreach or "")
    item = next((i for i in items if item_slug(i) == slug), None)
    if item is None:
        raise KeyError(step_id)
    return ResolvedStep(step_id, task_id, item, item_task(entry.model, item), substitute(entry.body, item))


def upstream_runs(project: Project, needs: list[str]) -> dict[str, str]:
    """The run of each needed task as a step records it (a foreach family's stand-in for its items)."""
    from agentfiles.core.foreach import family_run, items_of, step_id

    runs: dict[str, str] = {}
    for need in needs:
        entry = project.tasks.get(need)
        if entry is not None and entry.model.foreach:
            items = [step_id(need, i) for i in items_of(project.layout.root, entry.model.foreach)]
            found = [project.handoffs[i].model.run for i in items if i in project.handoffs]
            if len(found) == len(items):
                runs[need] = family_run(found)
        elif need in project.handoffs:
            runs[need] = project.handoffs[need].model.run
    return runs
