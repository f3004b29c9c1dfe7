"""Which step a step id names: a plain task, or one item of a foreach task with its placeholders filled
in; the files it is given and their hashes, and the runs of the tasks it needs, as its handoff records
them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentfiles.core.records import record
from agentfiles.errors import PreconditionError

if TYPE_CHECKING:
    from agentfiles.core.models import Task
    from agentfiles.core.project import Project


@record
class ResolvedStep:
    """A step as it runs: a plain task, or one item of a foreach task with its placeholders filled in."""

    step_id: str
    task_id: str
    item: str | None
    task: Task
    intent: str


def changed_meanwhile(what: str) -> PreconditionError:
    """The refusal of a run whose project's files changed between its check and its first step (`what`)."""
    return PreconditionError(f"the project's files changed while the run read them, before any step started: {what}",
                             hint="run again once the files are as you want them")


class StepGone(KeyError):
    """The step's task, or its foreach item, is not in the project as read now: the files changed since the
    step was planned (a KeyError, as callers that skip such a step expect). `args`: the step, and why."""

    def __init__(self, step_id: str, why: str) -> None:
        super().__init__(step_id, why)


def resolve_step(project: Project, step_id: str) -> ResolvedStep:
    from agentfiles.core.foreach import family_of, item_slug, item_task, items_of, substitute

    task_id = family_of(step_id)
    entry = project.tasks.get(task_id)
    if entry is None:
        raise StepGone(step_id, "its task file is not in the project as the run checked it (added since)")
    if step_id == task_id:
        return ResolvedStep(step_id, task_id, None, entry.model, entry.body)
    slug = step_id.split("@", 1)[1]
    items = items_of(project.layout.root, entry.model.foreach or "")
    item = next((i for i in items if item_slug(i) == slug), None)
    if item is None:
        raise StepGone(step_id, f"its item is gone: `{entry.model.foreach}` no longer matches it (removed since the "
                                "step was planned)")
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


def input_files(project: Project, task: Task) -> tuple[list[str], list[str]]:
    """The repo files a step gets (expanded, sorted, handoff files included) and missing literal inputs."""
    from agentfiles.core.fingerprint import expand_path_input
    from agentfiles.core.paths import has_glob
    from agentfiles.runner.globs import owned_files

    root = project.layout.root
    files: list[str] = []
    missing: list[str] = []
    for spec in task.inputs:
        if spec.handoff is not None:
            rel = project.layout.rel(project.layout.handoff_file(spec.handoff))
            if (root / rel).is_file():
                files.append(rel)
            else:
                missing.append(f"handoff:{spec.handoff}")
            continue
        assert spec.path is not None
        found = expand_path_input(root, spec.path)
        if not found and not has_glob(spec.path):
            missing.append(spec.path)
        files.extend(found)
    files.extend(owned_files(root, task.outputs))  # what its output globs match: it may change them
    return sorted(set(files)), missing


def input_hashes(project: Project, task: Task, seen: dict[str, str]) -> dict[str, str]:
    """As a handoff records them: each path input file (`seen`: as copied into the sandbox), and
    `handoff:x` as the digest of x's body."""
    from agentfiles.core.fingerprint import handoff_digest

    hashes: dict[str, str] = {}
    handoff_files = {}
    for spec in task.inputs:
        if spec.handoff is not None:
            entry = project.handoffs.get(spec.handoff)
            if entry is not None:
                hashes[spec.key] = handoff_digest(entry.body)
                handoff_files[project.layout.rel(project.layout.handoff_file(spec.handoff))] = True
    for rel, digest in seen.items():
        if rel not in handoff_files:
            hashes[rel] = digest
    return dict(sorted(hashes.items()))
