"""Time travel on the step history: back to the state before a task's latest step, or before a rollout
(`agents run --canary`), on a new branch or in place with one revert commit per step undone (and every
later step downstream of it, reviews included)."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.paths import Layout, find_project_root, is_valid_step_id
from agentfiles.core.records import record
from agentfiles.core.typos import unknown_task
from agentfiles.errors import PreconditionError, UsageError
from agentfiles.storage.git import Git
from agentfiles.storage.history import StepCommit, step_commits

REWIND_PREFIX = "agents/rewind/"


def latest_step(root: Path, task: str) -> StepCommit:
    if not is_valid_step_id(task):
        raise UsageError(f"'{task}' is not a valid task id", hint="`agents status` lists the tasks")
    commits = [c for c in step_commits(root, task) if c.task == task and not c.reverted]
    layout = Layout(root)
    if not commits and not layout.task_file(task.split("@", 1)[0]).is_file():
        raise unknown_task([task], layout.step_ids())
    if not commits:
        raise UsageError(f"task '{task}' has no step commit on this branch (none that was not reverted)",
                         hint="`agents log` lists the step commits")
    return commits[0]


def task_commits(git: Git, span: str, tasks: set[str]) -> list[tuple[str, str]]:
    """(sha, task) of the commits in `span`, newest first, that belong to one of `tasks`: its steps and
    the reviews of them (reverts of earlier rewinds too)."""
    from agentfiles.core.foreach import family_of
    from agentfiles.storage.history import parse_trailers

    raw = git.text("log", "--format=%H%x00%B%x01", span)
    found = []
    for chunk in raw.split("\x01"):
        sha, _, message = chunk.strip().partition("\x00")
        task = parse_trailers(message).get("Agents-Task")
        if sha and task and (task in tasks or family_of(task) in tasks):
            found.append((sha, task))
    return found


@record
class RewindResult:
    task: str  # the task, or `rollout <id>`
    step: str  # the step commit rewound (of a rollout: its first)
    branch: str | None = None  # the new branch (default mode)
    base: str | None = None  # the commit it starts at
    reverted: list[dict[str, str]] = field(default_factory=list)  # in-place: {task, step, revert}

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "step": self.step, "branch": self.branch, "base": self.base, "reverted": self.reverted}


def downstream(directory: Path, tasks: str | list[str]) -> set[str]:
    """The tasks and every task that depends on one of them, directly or not (needs, handoffs, files it reads)."""
    from agentfiles.core.foreach import family_of
    from agentfiles.storage.workspace import open_workspace

    workspace = open_workspace(directory)
    workspace.require_loaded()
    edges = workspace.graph.edges
    found = {name for task in ([tasks] if isinstance(tasks, str) else tasks) for name in (task, family_of(task))}
    changed = True
    while changed:
        changed = False
        for edge in edges:
            if edge.source in found and edge.target not in found:
                found.add(edge.target)
                changed = True
    return found


def rewind(directory: Path, task: str, in_place: bool = False) -> RewindResult:
    """Back to the state before `task`'s latest step."""
    root = find_project_root(directory)
    step = latest_step(root, task)
    return _rewind(directory, root, RewindResult(task, step.sha), [task], task, f"`agents rewind {task}`", in_place)


def rewind_rollout(directory: Path, rollout: str, in_place: bool = False) -> RewindResult:
    """Back to the state before the first step of a rollout (`agents run --canary`); in place, every step
    it ran is reverted, with every later step downstream of them."""
    from agentfiles.core.paths import is_valid_run_id

    if not is_valid_run_id(rollout):
        raise UsageError(f"'{rollout}' is not a rollout id", hint="`agents log` names each step's rollout")
    root = find_project_root(directory)
    steps = [c for c in step_commits(root) if c.trailers.get("Agents-Rollout") == rollout and not c.reverted]
    if not steps:
        raise UsageError(f"no step of rollout {rollout} on this branch (none that was not reverted)",
                         hint="`agents log --json` names each step's rollout")
    result = RewindResult(f"rollout {rollout}", steps[-1].sha)
    tasks = sorted({c.task for c in steps})
    return _rewind(directory, root, result, tasks, rollout, f"`agents rewind --rollout {rollout}`", in_place)


def _rewind(directory: Path, root: Path, result: RewindResult, tasks: list[str], name: str, again: str,
            in_place: bool) -> RewindResult:
    """To the parent of `result.step`: a new branch `agents/rewind/<name>-<n>` there, or (`in_place`) revert
    commits of every later commit of `tasks` and what is downstream of them."""
    from agentfiles.storage.lock import RunLock

    layout = Layout(root)
    lock = RunLock(layout.agents / "run.lock")
    lock.acquire(3.0)
    git = Git(root)
    try:
        changes = git.tracked_changes()
        if changes:
            shown = ", ".join(changes[:5]) + (f" and {len(changes) - 5} more" if len(changes) > 5 else "")
            raise PreconditionError(
                f"uncommitted changes would be lost: {shown}", hint="commit or stash them (`git stash`), then rewind"
            )
        parent = git.run("rev-parse", "--verify", "-q", f"{result.step}^", check=False).stdout.decode().strip()
        if not parent:
            raise PreconditionError(f"the step {result.step[:10]} of {result.task} is the first commit: there is "
                                    "nothing before it", hint="start a new branch by hand with `git switch --orphan`")
        if not in_place:
            existing = git.text("for-each-ref", "--format=%(refname:short)", f"refs/heads/{REWIND_PREFIX}{name}-*").split()
            number = 1 + max((int(b.rsplit("-", 1)[1]) for b in existing if b.rsplit("-", 1)[1].isdigit()), default=0)
            branch = f"{REWIND_PREFIX}{name}-{number}"
            git.run("switch", "--quiet", "-c", branch, parent)
            result.branch, result.base = branch, parent
            return result
        chosen = task_commits(git, f"{parent}..HEAD", downstream(directory, tasks))  # steps and reviews, newest first
        start = git.head()
        try:
            for sha, owner in chosen:
                git.run("revert", "--no-commit", sha)
                subject = git.text("log", "-1", "--format=%s", sha).strip()
                message = (f"agents({owner}): revert {sha[:10]} (rewind {result.task})\n\nThis reverts \"{subject}\",\n"
                           f"commit {sha}.\n\nAgents-Task: {owner}\nAgents-Reverts: {sha}\n")
                git.run("-c", "core.hooksPath=/dev/null", "commit", "--quiet", "--no-verify", "-m", message)
                result.reverted.append({"task": owner, "step": sha, "revert": git.head() or ""})
        except BaseException:
            git.run("revert", "--abort", check=False)
            git.run("reset", "--quiet", "--merge", check=False)  # a conflicted --no-commit revert
            git.run("reset", "--quiet", "--keep", start or "HEAD", check=False)
            raise PreconditionError(
                f"reverting the steps after {result.task} conflicts with later changes; nothing was changed",
                hint=f"rewind on a branch instead: {again}",
            ) from None
        return result
    finally:
        git.close()
        lock.release()
