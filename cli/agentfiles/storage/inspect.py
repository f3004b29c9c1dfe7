"""Reading a step back: its handoff (latest, or the one of an earlier run from history), its run record
and captured output, and the commit that landed it."""

from __future__ import annotations

import os
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles.core.paths import Layout, Reach, find_project_root, is_valid_step_id
from agentfiles.core.records import record
from agentfiles.core.typos import unknown_task
from agentfiles.errors import UsageError
from agentfiles.storage.documents import DocumentError, parse_document, read_text
from agentfiles.storage.git import Git
from agentfiles.storage.history import step_commits
from agentfiles.storage.records import read_blob, read_jsons, read_record, record_file, recorded_paths, run_folder

if TYPE_CHECKING:
    from agentfiles.core.handoffs import Handoff


@record
class StepView:
    task: str
    meta: dict[str, Any]
    body: str
    record: dict[str, Any] | None
    commit: str | None = None
    landed_by: str | None = None  # the approval commit that landed an uncertain run's outputs
    reviews: list[dict[str, Any]] = field(default_factory=list)  # its run's reviews, oldest first, with their commits
    streams: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)  # model steps: exactly what was sent

    @property
    def review(self) -> dict[str, Any] | None:
        """The run's review as it stands (its handoff's `review`), with the commit that recorded it."""
        review = self.meta.get("review")
        if not isinstance(review, dict):
            return None
        latest = self.reviews[-1] if self.reviews else {}
        return {"state": None, "by": None, "at": None, "reason": None,  # the keys `reviews` has, null when unset
                **review, "commit": latest.get("commit") if latest.get("state") == review.get("state") else None}

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "handoff": self.meta,
            "summary": self.body,
            "record": self.record,
            "commit": self.commit,
            "landed_by": self.landed_by,
            "review": self.review,
            "reviews": self.reviews,
            "stdout": self.streams.get("stdout", ""),
            "stderr": self.streams.get("stderr", ""),
        }


def load_step(directory: Path, task: str, run: str | None) -> StepView:
    root = find_project_root(directory)
    layout = Layout(root)
    if not is_valid_step_id(task):
        raise UsageError(f"'{task}' is not a valid task id", hint="`agents status` lists the tasks")
    commits = [c for c in step_commits(root, task) if c.task == task]
    found = None
    if run is None:
        path = layout.handoff_file(task)
        if not os.path.lexists(path):
            if os.path.lexists(layout.handoffs) and not layout.handoffs.is_dir():
                rel = layout.rel(layout.handoffs)
                raise UsageError(f"{rel} is a file, but it must be the folder of the handoff files", file=rel,
                                 hint=f"move the file away and create the folder: mkdir -p {rel}")
            family = task.split("@", 1)[0]
            if not layout.task_file(family).is_file():
                raise unknown_task([task], layout.step_ids())
            items = sorted(p.stem for p in layout.handoffs.glob(f"{family}@*.md")) if "@" not in task else []
            if items:
                raise UsageError(
                    f"{task} is a foreach task; each of its items is a step of its own: {', '.join(items[:5])}",
                    hint=f"show one of them, e.g. `agents show {items[0]}`",
                )
            raise UsageError(f"task '{task}' has not run yet", hint=f"run it with `agents run {task}`")
        text = _handoff_text(layout, path, task)
    else:
        match = [c for c in commits if c.trailers.get("Agents-Run") == run]
        if not match:
            known = ", ".join(c.trailers.get("Agents-Run", "?") for c in commits[:5]) or "none"
            raise UsageError(f"no run {run} of task '{task}'", hint=f"its recent runs: {known}")
        found = match[0]
        # The run's handoff as last committed: with its latest review, and an uncertain run a person approved
        # with the outputs that approval landed (a later rejection keeps them, and says so).
        latest = found.reviews[0] if found.reviews else found.landed_by or found.sha
        text = Git(root).text("show", f"{latest}:{layout.rel(layout.handoff_file(task))}")
    rel = layout.rel(layout.handoff_file(task))
    committed = f" (as committed in {found.sha[:10]})" if found else ""
    try:
        doc = parse_document(text)
    except DocumentError as exc:
        raise UsageError(f"the handoff of '{task}' cannot be read{committed}: {exc.message}", file=rel, line=exc.line,
                         hint="see `agents validate`" if not found else "`agents log` lists its other runs") from None
    run_id = untrusted_handoff(doc.meta, task, rel).run
    if found is None:
        found = next((c for c in commits if c.trailers.get("Agents-Run") == run_id), None)
    view = StepView(task=task, meta=doc.meta, body=doc.body, record=None, commit=found.sha if found else None,
                    landed_by=found.landed_by if found else None)
    if found is not None and found.reviews:
        view.reviews = _reviews(root, layout, task, found.reviews)
    return read_run(layout, view)


def _reviews(root: Path, layout: Layout, task: str, commits: list[str]) -> list[dict[str, Any]]:
    """`{state, by, at, reason, commit}` of each review commit (given newest first), oldest first, from the
    handoff each committed."""
    rel = layout.rel(layout.handoff_file(task))
    found = []
    for sha, data in zip(commits, Git(root).blobs([f"{sha}:{rel}" for sha in commits])):
        try:
            review = parse_document(data.decode("utf-8", "replace")).meta.get("review") if data else None
        except DocumentError:
            review = None
        if isinstance(review, dict):
            fields = {k: None if review.get(k) is None else str(review[k]) for k in ("state", "by", "at", "reason")}
            found.append({**fields, "commit": sha})
    return found[::-1]


def _handoff_text(layout: Layout, path: Path, task: str) -> str:
    """The text of a task's handoff file; what is not a readable UTF-8 file of the repository (a folder,
    a symlink out of it, bytes that are not text) is an error naming it."""
    rel = layout.rel(path)
    hint = f"restore it with `git checkout -- {rel}`, or run the task again"
    why = Reach(layout.root).problem(rel)
    if why:
        raise UsageError(f"the handoff of '{task}' {why}", file=rel, hint=hint)
    if not path.is_file():
        raise UsageError(f"the handoff of '{task}' is {'a folder' if path.is_dir() else 'not a file'}", file=rel,
                         hint=hint)
    try:
        return read_text(path)
    except DocumentError as exc:
        raise UsageError(f"the handoff of '{task}' cannot be read: {exc.message}", file=rel, hint=hint) from None
    except OSError as exc:
        raise UsageError(f"the handoff of '{task}' cannot be read: {exc.strerror}", file=rel, hint=hint) from None


def read_run(layout: Layout, view: StepView) -> StepView:
    """`view` with what its run folder holds: the record, the captured output and, for a model step, the
    requests it sent."""
    run_id = view.meta.get("run", "")
    if not run_id:
        return view
    folder = run_folder(layout, run_id)
    view.record = read_record(layout, run_id)
    if view.record is not None:
        recorded_paths(layout, view.record, view.task, run_id)
    for name in ("stdout", "stderr"):
        path = folder / f"{name}.txt"
        if record_file(layout, path):
            view.streams[name] = path.read_text(encoding="utf-8", errors="replace")
    view.requests = recorded_turns(layout, folder)
    return view


def recorded_turns(layout: Layout, folder: Path, kind: str = "requests") -> list[dict[str, Any]]:
    """A recorded conversation's `requests/NNN.json` (or `responses/`) under `folder`, in order: a run's
    doer, or its `verifier/`, `router/` or `attempt-N/` folders; as sent, whatever way they were stored
    (see storage/turns.py)."""
    from agentfiles.storage.turns import expand

    turns = read_jsons(layout, folder / kind)
    try:
        record = layout.runs / folder.relative_to(layout.runs).parts[0]
    except (ValueError, IndexError):
        return turns
    return expand(turns, lambda digest: read_blob(layout, record, digest))


def untrusted_handoff(meta: dict[str, Any], task: str, rel: str | None = None) -> Handoff:
    """A handoff read back from a file or from history, checked as the model checks one before any of its
    paths or ids is used (a cloned repository is untrusted input)."""
    from agentfiles.core.diagnostics import Invalid
    from agentfiles.core.handoffs import Handoff
    from agentfiles.core.schema import parse

    try:
        handoff = parse(Handoff, meta)
    except Invalid as exc:
        raise UsageError(f"the handoff of '{task}' is not valid: {exc.problems[0].message}", file=rel,
                         hint="restore it from git, or run the task again") from None
    if handoff.task != task:
        raise UsageError(f"the handoff of '{task}' names task '{handoff.task}'", file=rel, hint="restore it from git")
    return handoff
