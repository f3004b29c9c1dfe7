"""What a report shows, read once from the repository: the tasks with their derived state, every step
commit with the handoff it committed (one history pass, one `git cat-file --batch`), each run's record,
turns and proposed outputs from its run folder, the diffs of all outputs (one more batch), the usage
totals and the steps awaiting review."""

from __future__ import annotations

import re
from dataclasses import field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles import __version__
from agentfiles.core.foreach import family_of
from agentfiles.core.graph import Edge
from agentfiles.core.records import record
from agentfiles.core.usage import usage_totals
from agentfiles.runner.preflight import with_context_budgets
from agentfiles.runner.review import Pending, awaiting_review, output_diffs, recorded_reviews
from agentfiles.storage.git import Git
from agentfiles.storage.history import step_commits
from agentfiles.storage.inspect import StepView, read_run, recorded_turns

if TYPE_CHECKING:
    from agentfiles.core.models import Task
    from agentfiles.core.state import TaskState
    from agentfiles.storage.workspace import Workspace

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@record
class Attempt:
    """An earlier attempt of a run, rejected by its verifier (or failed) before the last one."""

    number: int
    folder: Path
    summary: dict[str, Any]  # the record's `earlier_attempts` entry: failure, verification, usage, outputs
    requests: list[dict[str, Any]] = field(default_factory=list)
    verifier_requests: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""


@record
class Run:
    """One run of a step: its handoff as committed, its run folder, and where it stands now."""

    view: StepView
    date: str
    reverted: bool = False
    latest: bool = False  # the run the step's handoff records now
    review: dict[str, Any] | None = None  # its last review (the handoff's, for the latest run)
    verifier_requests: list[dict[str, Any]] = field(default_factory=list)
    router_requests: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    diff: str = ""
    folder_present: bool = True

    @property
    def task(self) -> str:
        return self.view.task

    @property
    def id(self) -> str:
        return str(self.view.meta.get("run") or "")

    @property
    def meta(self) -> dict[str, Any]:
        return self.view.meta

    @property
    def record(self) -> dict[str, Any]:
        return self.view.record or {}

    @property
    def status(self) -> str:
        return str(self.meta.get("status") or "?")

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.meta.get("usage") or {})

    @property
    def has_page(self) -> bool:
        """A run of the history (a step commit) has a page of its own; one that only its step's handoff
        records is shown on the step's page."""
        return self.view.commit is not None

    @property
    def slug(self) -> str:
        """The run id as a file name (a handoff's run is free text: anything else is hashed)."""
        if _SAFE.match(self.id):
            return self.id
        import hashlib

        return "run-" + hashlib.sha256(self.id.encode()).hexdigest()[:16]


@record
class Step:
    """A task, or one item of a foreach task, with its state and its runs, newest first."""

    id: str
    state: TaskState
    task: Task | None  # None when its file cannot be loaded
    intent: str
    path: str  # its task file
    items: list[str] = field(default_factory=list)  # a foreach task's steps
    runs: list[Run] = field(default_factory=list)

    @property
    def family(self) -> str:
        return family_of(self.id)

    @property
    def is_item(self) -> bool:
        return "@" in self.id

    @property
    def latest(self) -> Run | None:
        return next((r for r in self.runs if r.latest), None)


@record
class Report:
    root: Path
    head: str | None
    branch: str | None
    built: str
    steps: dict[str, Step]  # dependency order, each foreach task followed by its items
    runs: list[Run]  # every run, newest first
    edges: list[Edge]
    totals: dict[str, Any]
    pending: list[Pending]
    version: str = __version__

    @property
    def graph_nodes(self) -> list[Step]:
        """The graph's nodes: tasks (a foreach task is one node, as it is one file)."""
        return [s for s in self.steps.values() if not s.is_item]


def collect(workspace: Workspace) -> Report:
    """Everything a report shows, from an open workspace. A task, role or handoff file that cannot be
    loaded leaves the rest to show (the task marked invalid, as `agents status` marks it)."""
    workspace.require_usable()
    project = workspace.project
    root, layout = workspace.root, project.layout
    states = with_context_budgets(workspace, workspace.states())  # as `agents status` shows them
    steps = _steps(workspace, states)
    commits = step_commits(root, handoffs=True)
    runs: list[Run] = []
    seen: set[tuple[str, str]] = set()
    for commit in commits:
        view = StepView(task=commit.task, meta=dict(commit.handoff or {}), body=commit.handoff_body, record=None,
                        commit=commit.sha, landed_by=commit.landed_by)
        runs.append(Run(view, commit.date, reverted=commit.reverted))
        seen.add((commit.task, str(view.meta.get("run") or commit.trailers.get("Agents-Run", ""))))
    for step_id, entry in project.handoffs.items():  # a run with no step commit (commits off, or hand-made)
        if step_id in steps and (step_id, entry.model.run) not in seen:
            meta = entry.model.dump(exclude_none=True)
            runs.append(Run(StepView(step_id, meta, entry.body, None), entry.model.finished or ""))
    reviews = recorded_reviews(root)
    for run in runs:
        _read_folder(layout, run)
        current = project.handoffs.get(run.task)
        run.review = reviews.get((run.task, run.id))
        if current is not None and current.model.run == run.id and not run.reverted:
            run.latest = True
            run.review = current.model.review.dump(exclude_none=True) if current.model.review else None
        step = steps.get(run.task)
        if step is not None:
            step.runs.append(run)
    _diffs(root, layout.runs, runs)
    totals = usage_totals([{"task": r.task, "role": r.meta.get("role"), "model": r.meta.get("model"), "usage": r.usage}
                           for r in runs], [r.record for r in runs])
    git = Git(root)
    return Report(
        root=root, head=git.head(), branch=git.branch(),
        built=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        steps=steps, runs=runs, totals=totals,
        edges=workspace.graph.edges + [Edge(need, task_id, "needs")  # what a broken task's file still says
                                       for task_id, needs in project.broken_tasks.items() for need in needs],
        pending=awaiting_review(workspace, commits, with_diff=False),
    )


def _steps(workspace: Workspace, states: dict[str, TaskState]) -> dict[str, Step]:
    project = workspace.project
    order, cyclic = workspace.graph.order()
    items: dict[str, list[str]] = {}
    for step_id in states:
        if "@" in step_id:
            items.setdefault(family_of(step_id), []).append(step_id)
    steps: dict[str, Step] = {}
    for task_id in sorted(project.broken_tasks):
        if task_id in states:
            steps[task_id] = Step(task_id, states[task_id], None, "", project.layout.rel(project.layout.task_file(task_id)))
    for task_id in [*order, *cyclic]:
        entry = project.tasks[task_id]
        family = sorted(items.get(task_id, []))
        steps[task_id] = Step(task_id, states[task_id], entry.model, entry.body, entry.path, items=family)
        for item in family:
            steps[item] = Step(item, states[item], entry.model, entry.body, entry.path)
    return steps


def _read_folder(layout: Any, run: Run) -> None:
    """The run's record, output, turns and earlier attempts, from its folder in the working tree."""
    folder = layout.runs / run.slug
    run.folder_present = bool(run.id) and run.slug == run.id and folder.is_dir()
    if not run.folder_present:
        return
    read_run(layout, run.view)
    run.verifier_requests = recorded_turns(layout, folder / "verifier")
    run.router_requests = recorded_turns(layout, folder / "router")
    for summary in run.record.get("earlier_attempts") or []:
        where = folder / str(summary.get("record") or f"attempt-{summary.get('attempt')}/").rstrip("/")
        run.attempts.append(Attempt(int(summary.get("attempt") or 0), where, summary, recorded_turns(layout, where),
                                    recorded_turns(layout, where / "verifier")))


def _diffs(root: Path, runs_folder: Path, runs: list[Run]) -> None:
    """The diff of every run's outputs and of every earlier attempt's proposal, in one batch. An attempt
    was proposed against the state before its run's commit (which holds the outputs that landed)."""
    jobs: list[tuple[Any, str | None, dict[str, Any], Path | None]] = []
    for run in runs:
        folder = runs_folder / run.slug if run.folder_present else None
        jobs.append((run, run.view.landed_by or run.view.commit, run.meta, folder))
        before = f"{run.view.commit}^" if run.view.commit else None
        for attempt in run.attempts:
            jobs.append((attempt, before, {"status": "rejected"}, attempt.folder))
    texts = output_diffs(root, [(commit, meta, folder) for _, commit, meta, folder in jobs])
    for (owner, _, _, _), text in zip(jobs, texts):
        owner.diff = text
