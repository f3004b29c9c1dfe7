"""Review and time travel on the step history: which handoffs await a person's review, approving or
rejecting a step (recorded in its handoff and committed), the diff a step made to its outputs, and
rewinding to the state before a step, on a new branch or in place with revert commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles.core.context import unified_diff
from agentfiles.core.paths import Layout, find_project_root, is_valid_step_id
from agentfiles.core.typos import unknown_task
from agentfiles.errors import PreconditionError, UsageError
from agentfiles.storage.git import Git, StepCommit, step_commits
from agentfiles.storage.records import read_record, record_file, run_folder

if TYPE_CHECKING:
    from agentfiles.storage.workspace import Workspace

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
    from agentfiles.storage.git import parse_trailers

    raw = git.text("log", "--format=%H%x00%B%x01", span)
    found = []
    for chunk in raw.split("\x01"):
        sha, _, message = chunk.strip().partition("\x00")
        task = parse_trailers(message).get("Agents-Task")
        if sha and task and (task in tasks or family_of(task) in tasks):
            found.append((sha, task))
    return found


def recorded_reviews(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The last review of every reviewed run, `(task, run) -> {state, by, at, reason}`, from the review
    commits and the handoff each committed (one `git log`, one `git cat-file --batch`); a review that a
    rewind reverted does not count."""
    from agentfiles.storage.documents import DocumentError, parse_document
    from agentfiles.storage.git import parse_trailers

    git = Git(root)
    if git.head() is None:
        return {}
    raw = git.text("log", "--format=%H%x00%B%x01", "--grep=^Agents-Review: ", "--grep=^Agents-Reverts: ", "HEAD")
    reverted: set[str] = set()
    found: list[tuple[str, str, str]] = []  # sha, task, run; newest first
    for chunk in raw.split("\x01"):
        sha, _, message = chunk.strip().partition("\x00")
        trailers = parse_trailers(message)
        if "Agents-Reverts" in trailers:  # newer than what it reverts: met first
            reverted.add(trailers["Agents-Reverts"])
        elif sha and "Agents-Review" in trailers and sha not in reverted:
            found.append((sha, trailers.get("Agents-Task", ""), trailers.get("Agents-Run", "")))
    layout = Layout(root)
    texts = git.blobs([f"{sha}:{layout.rel(layout.handoff_file(task))}" for sha, task, _ in found])
    reviews: dict[tuple[str, str], dict[str, Any]] = {}
    for (_, task, run), data in zip(found, texts):
        try:
            review = parse_document(data.decode("utf-8", "replace")).meta.get("review") if data else None
        except DocumentError:
            review = None
        if isinstance(review, dict):
            reviews.setdefault((task, run), review)
    return reviews


def produced_outputs(git: Git, commit: str | None, meta: dict[str, Any], run_folder: Path,
                     paths: list[str]) -> list[bytes | None]:
    """The outputs as a step produced them: as its commit holds them when they landed, else as its run
    record keeps them under proposed/ (None where there is no such file)."""
    if meta.get("status") == "done" and commit is not None:
        return git.blobs([f"{commit}:{p}" for p in paths])
    layout = Layout(git.root)
    return [(run_folder / "proposed" / p).read_bytes() if record_file(layout, run_folder / "proposed" / p) else None
            for p in paths]


def output_diff(root: Path, commit: str, meta: dict[str, Any], run_folder: Path | None = None) -> str:
    """What a step changed in its outputs: its commit's diff of them, or, for a step whose outputs did not
    land, its proposed outputs (kept in the run record) against the files as they were."""
    return output_diffs(root, [(commit, meta, run_folder)])[0]


def output_diffs(root: Path, steps: Sequence[tuple[str | None, dict[str, Any], Path | None]]) -> list[str]:
    """`output_diff` of many steps, each `(commit, handoff meta, run folder)`, with one `git cat-file` for
    all of them. A run folder may also be an earlier attempt's (`attempt-N/`), whose proposal it diffs."""
    plans: list[list[tuple[str, str, str | Path, bool]]] = []  # (path, before spec, after spec or file, proposed)
    layout = Layout(root)
    for commit, meta, folder in steps:
        entries: list[tuple[str, str, str | Path, bool]] = []
        if commit is not None and meta.get("status") == "done":
            entries = [(p, f"{commit}^:{p}", f"{commit}:{p}", False) for p in sorted(meta.get("outputs") or {})]
        elif commit is not None and folder is not None and (folder / "proposed").is_dir():
            base = folder / "proposed"
            entries = [(rel, f"{commit}:{rel}", base / rel, True)
                       for rel in sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if record_file(layout, p))]
        plans.append(entries)
    specs = sorted({s for entries in plans for e in entries for s in (e[1], e[2]) if isinstance(s, str)})
    blobs = dict(zip(specs, Git(root).blobs(specs)))
    texts = []
    for entries in plans:
        parts = []
        for rel, before, after, proposed in entries:
            old = blobs.get(before)
            new = after.read_bytes() if isinstance(after, Path) else blobs.get(after)
            parts.append(_file_diff(rel, old, new or b"", proposed))
        texts.append("".join(parts))
    return texts


def _file_diff(rel: str, old: bytes | None, new: bytes, proposed: bool) -> str:
    if old == new:
        return ""
    before = f"a/{rel}" if old is not None else "/dev/null"
    after = f"b/{rel}" + (" (proposed, not applied)" if proposed else "")
    if b"\0" in (old or b"")[:8000] or b"\0" in new[:8000]:  # as git decides a file is binary
        return f"Binary files {before} and {after} differ\n"
    return unified_diff(old.decode("utf-8", "replace") if old is not None else None, new.decode("utf-8", "replace"),
                        before, after)


# ------------------------------------------------------------------------------------------ review


@dataclass
class Pending:
    task: str
    run: str
    status: str
    summary: str
    verification: dict[str, Any] | None
    commit: str | None
    diff: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)  # the `run:` criteria and whether they passed

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "run": self.run, "status": self.status, "summary": self.summary,
                "verification": self.verification, "checks": self.checks, "commit": self.commit, "diff": self.diff}


def summary_of(body: str) -> str:
    """The text of a handoff's `## Summary` section."""
    text = body.split("## Summary", 1)[-1]
    return text.split("\n## ", 1)[0].strip()


def pending_reviews(directory: Path, with_diff: bool = True) -> list[Pending]:
    """Handoffs with no review since they last changed (a new run writes a handoff without one)."""
    from agentfiles.storage.workspace import open_workspace

    workspace = open_workspace(directory)
    workspace.require_loaded()
    return awaiting_review(workspace, step_commits(workspace.root), with_diff)


def awaiting_review(workspace: Workspace, history: list[StepCommit], with_diff: bool = True) -> list[Pending]:
    """`pending_reviews` of an open workspace whose step commits are read already."""
    project = workspace.project
    root = workspace.root
    commits = {c.trailers.get("Agents-Run"): c.sha for c in history}
    found = []
    for task_id in sorted(project.handoffs):
        entry = project.handoffs[task_id]
        handoff = entry.model
        if handoff.review is not None:
            continue
        commit = commits.get(handoff.run)
        item = Pending(task_id, handoff.run, handoff.status, summary_of(entry.body),
                       handoff.verification.model_dump(mode="json") if handoff.verification else None, commit)
        record = read_record(project.layout, handoff.run)
        item.checks = [{"run": c.get("run"), "ok": c.get("ok")} for c in (record or {}).get("checks") or []]
        found.append(item)
    if with_diff:
        steps = [(p.commit, project.handoffs[p.task].model.model_dump(mode="json", by_alias=True),
                  run_folder(project.layout, p.run)) for p in found]
        for item, diff in zip(found, output_diffs(root, steps)):
            item.diff = diff
    return found


@dataclass
class ReviewResult:
    task: str
    run: str
    state: str
    commit: str
    reason: str | None = None
    by: str = ""
    replaced: dict[str, Any] | None = None  # the review this one replaced

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "run": self.run, "review": self.state, "reason": self.reason, "commit": self.commit}


def reviewer(git: Git) -> str:
    """`Name <email>` of whoever reviews: git's author identity."""
    done = git.run("var", "GIT_AUTHOR_IDENT", check=False)
    ident = done.stdout.decode("utf-8", "replace").strip()
    return ident.rsplit(" ", 2)[0] if ident else "unknown"


def record_review(directory: Path, task: str, state: str, reason: str | None = None) -> ReviewResult:
    """Write `review:` into the task's handoff and commit it (the handoff file only)."""
    from agentfiles.storage.documents import dump_document, parse_document
    from agentfiles.storage.files import atomic_write
    from agentfiles.storage.lock import RunLock

    root = find_project_root(directory)
    layout = Layout(root)
    if not is_valid_step_id(task):
        raise UsageError(f"'{task}' is not a valid task id", hint="`agents status` lists the tasks")
    path = layout.handoff_file(task)
    rel = layout.rel(path)
    if not path.is_file():
        if not layout.task_file(task.split("@", 1)[0]).is_file():
            raise unknown_task([task], layout.step_ids())
        raise UsageError(f"task '{task}' has no handoff to review", hint=f"run it first with `agents run {task}`")
    lock = RunLock(layout.agents / "run.lock")
    lock.acquire(3.0)
    git = Git(root)
    try:
        if git.dirty([rel]):
            raise PreconditionError(f"{rel} has uncommitted changes", hint="commit or discard them, then review")
        doc = parse_document(path.read_text(encoding="utf-8"))
        meta = dict(doc.meta)
        run = str(meta.get("run"))
        earlier = meta.get("review") if isinstance(meta.get("review"), dict) else None
        if state == "approved" and earlier and earlier.get("state") == "approved":
            raise PreconditionError(f"run {run} of {task} is already approved (by {earlier.get('by')}, {earlier.get('at')})",
                                    hint="a new run of the task needs a new review; `agents review` lists those")
        if state == "approved" and meta.get("status") != "done":
            raise PreconditionError(
                f"run {run} of {task} is {meta.get('status')}: there is nothing to approve",
                hint=f"`agents show {task}` says why; `agents run {task}` runs it again",
            )
        review: dict[str, Any] = {"state": state, "by": reviewer(git),
                                  "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if reason:
            review["reason"] = reason
        meta["review"] = review
        from agentfiles.core.models import Handoff

        Handoff.model_validate(meta)  # what we write must load again
        atomic_write(path, dump_document(meta, doc.body).encode("utf-8"))
        verb = "approve" if state == "approved" else "reject"
        lines = [f"agents({task}): {verb} run {run}", ""]
        if reason:
            lines += [reason, ""]
        lines += [f"Agents-Task: {task}", f"Agents-Run: {run}", f"Agents-Review: {state}"]
        try:
            commit = git.commit_paths([rel], "\n".join(lines) + "\n")
        except BaseException:
            git.run("checkout", "HEAD", "--", rel, check=False)  # the review did not land: undo the edit
            raise
        return ReviewResult(task, run, state, commit, reason, review["by"], earlier)
    finally:
        git.close()
        lock.release()


# ------------------------------------------------------------------------------------------ rewind


@dataclass
class RewindResult:
    task: str
    step: str  # the step commit rewound
    branch: str | None = None  # the new branch (default mode)
    base: str | None = None  # the commit it starts at
    reverted: list[dict[str, str]] = field(default_factory=list)  # in-place: {task, step, revert}

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "step": self.step, "branch": self.branch, "base": self.base, "reverted": self.reverted}


def downstream(directory: Path, task: str) -> set[str]:
    """The task and every task that depends on it, directly or not (needs, handoffs, files it reads)."""
    from agentfiles.core.foreach import family_of
    from agentfiles.storage.workspace import open_workspace

    workspace = open_workspace(directory)
    workspace.require_loaded()
    edges = workspace.graph.edges
    family = family_of(task)
    found = {task, family}
    changed = True
    while changed:
        changed = False
        for edge in edges:
            if edge.source in found and edge.target not in found:
                found.add(edge.target)
                changed = True
    return found


def rewind(directory: Path, task: str, in_place: bool = False) -> RewindResult:
    from agentfiles.storage.lock import RunLock

    root = find_project_root(directory)
    layout = Layout(root)
    step = latest_step(root, task)
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
        parent = git.run("rev-parse", "--verify", "-q", f"{step.sha}^", check=False).stdout.decode().strip()
        if not parent:
            raise PreconditionError(f"the step {step.sha[:10]} of {task} is the first commit: there is nothing before it",
                                    hint="start a new branch by hand with `git switch --orphan`")
        result = RewindResult(task, step.sha)
        if not in_place:
            existing = git.text("for-each-ref", "--format=%(refname:short)", f"refs/heads/{REWIND_PREFIX}{task}-*").split()
            number = 1 + max((int(b.rsplit("-", 1)[1]) for b in existing if b.rsplit("-", 1)[1].isdigit()), default=0)
            branch = f"{REWIND_PREFIX}{task}-{number}"
            git.run("switch", "--quiet", "-c", branch, parent)
            result.branch, result.base = branch, parent
            return result
        affected = downstream(directory, task)
        chosen = task_commits(git, f"{parent}..HEAD", affected)  # steps and their reviews, newest first
        start = git.head()
        try:
            for sha, owner in chosen:
                git.run("revert", "--no-commit", sha)
                subject = git.text("log", "-1", "--format=%s", sha).strip()
                message = (f"agents({owner}): revert {sha[:10]} (rewind {task})\n\nThis reverts \"{subject}\",\n"
                           f"commit {sha}.\n\nAgents-Task: {owner}\nAgents-Reverts: {sha}\n")
                git.run("-c", "core.hooksPath=/dev/null", "commit", "--quiet", "--no-verify", "-m", message)
                result.reverted.append({"task": owner, "step": sha, "revert": git.head() or ""})
        except BaseException:
            git.run("revert", "--abort", check=False)
            git.run("reset", "--quiet", "--merge", check=False)  # a conflicted --no-commit revert
            git.run("reset", "--quiet", "--keep", start or "HEAD", check=False)
            raise PreconditionError(
                f"reverting the steps after {task} conflicts with later changes; nothing was changed",
                hint=f"rewind on a branch instead: `agents rewind {task}`",
            ) from None
        return result
    finally:
        git.close()
        lock.release()
