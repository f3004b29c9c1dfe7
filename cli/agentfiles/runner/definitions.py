"""What the steps of a run are made from (their task files, the roles that do and judge them, the config,
and the CLAUDE.md files and imports their contexts read) must be in git, so that every handoff's
`definition` can be reproduced from history. Uncommitted ones are committed first, in a commit of their
own, or (with `commit: {definitions: false}`) the run is refused."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from agentfiles.errors import PreconditionError
from agentfiles.runner.resolve import changed_meanwhile, resolve_step

if TYPE_CHECKING:
    from agentfiles.core.plan import PlannedStep
    from agentfiles.storage.git import Git
    from agentfiles.storage.workspace import Workspace


def definition_files(workspace: Workspace, plan: list[PlannedStep]) -> list[str]:
    """Every file the planned steps are defined by, repository-relative."""
    project = workspace.project
    layout = project.layout
    files = {layout.rel(layout.config)} if layout.config.is_file() else set()
    roles: set[str] = set()
    for planned in plan:
        step = resolve_step(project, planned.task)
        task = step.task
        files.add(project.tasks[step.task_id].path)
        if task.is_command and not task.prose_criteria:
            continue
        roles.update(r for r in (task.role, *(project.verifiers_of(task) if task.prose_criteria else [])) if r)
        roles.update(task.participants)
        if task.select:
            roles.update(project.roles)  # any of them may be chosen
        if not task.is_command:
            from agentfiles.core.claude_imports import context_files  # CLAUDE.md files and their imports

            declared = [s.path for s in task.inputs if s.path] + list(task.outputs)
            files.update(path for path, _ in context_files(layout.root, declared))
    for name in roles:
        entry = project.roles.get(name)
        if entry is not None:
            files.add(entry.path)
    return sorted(files)


def commit_definitions(workspace: Workspace, git: Git, plan: list[PlannedStep]) -> list[str]:
    """Commit the uncommitted definition files of the planned steps (their current content, nothing
    else of the user's); returns them. Refuses instead when the config says `commit: {definitions: false}`."""
    dirty = git.dirty(definition_files(workspace, plan))
    if not dirty:
        return []
    gone = [path for path in dirty if not os.path.lexists(workspace.root / path)]
    if gone:  # removed since the run read it: the steps would run from what is no longer there
        raise changed_meanwhile(f"{', '.join(gone[:6])}{f' and {len(gone) - 6} more' if len(gone) > 6 else ''} "
                                f"{'is' if len(gone) == 1 else 'are'} gone since the run read "
                                f"{'it' if len(gone) == 1 else 'them'}")
    shown = ", ".join(dirty[:6]) + (f" and {len(dirty) - 6} more" if len(dirty) > 6 else "")
    if not workspace.project.config.commit.definitions:
        raise PreconditionError(
            f"the steps would run from definitions that are not committed: {shown}",
            hint="commit them first (`git add` and `git commit`), so every handoff can be reproduced from git; "
            "or set `commit: {definitions: true}` to have agents commit them",
        )
    message = (
        "agents: commit the definitions this run uses\n\n"
        "The steps that follow ran from these task, role, config and context files; they were not committed.\n\n"
        + "".join(f"Agents-Definition: {path}\n" for path in dirty)
    )
    # The index takes them first: killed after the commit, or with the index locked by another git process,
    # a run must not leave an index that holds the old files under a HEAD that holds the new ones.
    git.stage(dirty)
    git.commit_paths(dirty, message)
    return dirty
