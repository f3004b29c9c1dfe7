"""What can be known about a planned step before it runs: a declared input that does not exist and that
no step will produce, or a model step whose context (built from the files as they are) is over its
budget. `agents run --dry-run` reports these and exits 1; a real run finds the same at the step's start
and commits nothing for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentfiles.core.foreach import family_of
from agentfiles.core.paths import has_glob
from agentfiles.runner.resolve import resolve_step
from agentfiles.storage.files import text_reader

if TYPE_CHECKING:
    from agentfiles.core.plan import PlannedStep
    from agentfiles.storage.workspace import Workspace


def known_failures(workspace: Workspace, plan: list[PlannedStep]) -> dict[str, str]:
    """Planned step -> why it would fail before it starts."""
    from agentfiles.runner.agent import agent_plan

    project = workspace.project
    root = workspace.root
    produced = {out for entry in project.tasks.values() for out in entry.model.outputs}
    planned_outputs = {out for p in plan for out in resolve_step(project, p.task).task.outputs}
    found: dict[str, str] = {}
    for planned in plan:
        step = resolve_step(project, planned.task)
        paths = [spec.path for spec in step.task.inputs if spec.path is not None]
        missing = [p for p in paths if not has_glob(p) and p not in produced and not (root / p).exists()]
        if missing:
            found[planned.task] = "declared input missing: " + ", ".join(missing)
            continue
        if step.task.is_command or any(p in planned_outputs for p in paths) or step.task.select:
            continue  # its context is only known once the steps before it have run (or a router chose)
        if any(spec.handoff for spec in step.task.inputs if spec.handoff in {family_of(p.task) for p in plan}):
            continue
        agent = agent_plan(project, step, text_reader(root, missing_ok=True))
        over = agent.over_budget()
        if over:
            found[planned.task] = over
    return found
