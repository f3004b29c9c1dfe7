"""Review on the step history: which handoffs await a person's review, approving or rejecting a step
(recorded in its handoff and committed), and the diff a step made to its outputs. Rewinding is in
runner/rewind.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles.core.context import unified_diff
from agentfiles.core.paths import Layout, find_project_root, is_valid_step_id
from agentfiles.core.records import record
from agentfiles.core.typos import unknown_task
from agentfiles.errors import PreconditionError, UsageError
from agentfiles.storage.git import Git
from agentfiles.storage.history import StepCommit, step_commits
from agentfiles.storage.records import read_record, record_file, run_folder

if TYPE_CHECKING:
    from agentfiles.storage.workspace import Workspace


def recorded_reviews(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The last review of every reviewed run, `(task, run) -> {state, by, at, reason}`, from the review
    commits and the handoff each committed (one `git log`, one `git cat-file --batch`); a review that a
    rewind reverted does not count."""
    from agentfiles.storage.documents import DocumentError, parse_document
    from agentfiles.storage.history import parse_trailers

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
        entries: list[tuple[str, str, str | Path | None, bool]] = []
        if commit is not None and meta.get("status") == "done":
            entries = [(p, f"{commit}^:{p}", f"{commit}:{p}", False) for p in sorted(meta.get("outputs") or {})]
            entries += [(p, f"{commit}^:{p}", None, False) for p in _paths(meta.get("deleted"))]
        elif commit is not None and folder is not None and (folder / "proposed").is_dir():
            base = folder / "proposed"
            entries = [(rel, f"{commit}:{rel}", base / rel, True)
                       for rel in sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if record_file(layout, p))]
        if commit is not None and folder is not None and meta.get("status") != "done":
            record = read_record(layout, folder.name) if folder.parent == layout.runs else None
            entries += [(p, f"{commit}:{p}", None, True) for p in _paths((record or {}).get("deleted"))]
        plans.append(sorted(entries, key=lambda e: e[0]))
    specs = sorted({s for entries in plans for e in entries for s in (e[1], e[2]) if isinstance(s, str)})
    blobs = dict(zip(specs, Git(root).blobs(specs)))
    texts = []
    for entries in plans:
        parts = []
        for rel, before, after, proposed in entries:
            old = blobs.get(before)
            if after is None:  # deleted
                parts.append(_file_diff(rel, old, None, proposed))
                continue
            new = after.read_bytes() if isinstance(after, Path) else blobs.get(after)
            parts.append(_file_diff(rel, old, new or b"", proposed))
        texts.append("".join(parts))
    return texts


def _paths(value: Any) -> list[str]:
    """The paths of a handoff's or record's `deleted` (a list of repo paths; anything else is none)."""
    from agentfiles.core.paths import check_repo_path

    if not isinstance(value, list):
        return []
    return sorted(p for p in value if isinstance(p, str) and check_repo_path(p) is None)


def _file_diff(rel: str, old: bytes | None, new: bytes | None, proposed: bool) -> str:
    if old == new:
        return ""
    before = f"a/{rel}" if old is not None else "/dev/null"
    after = "/dev/null" if new is None else f"b/{rel}"
    after += " (proposed, not applied)" if proposed else ""
    if b"\0" in (old or b"")[:8000] or b"\0" in (new or b"")[:8000]:  # as git decides a file is binary
        return f"Binary files {before} and {after} differ\n"
    if new is None:
        return unified_diff(old.decode("utf-8", "replace") if old is not None else None, "", before, after)
    return unified_diff(old.decode("utf-8", "replace") if old is not None else None, new.decode("utf-8", "replace"),
                        before, after)


# ------------------------------------------------------------------------------------------ review


@record
class Pending:
    task: str
    run: str
    status: str
    summary: str
    verification: dict[str, Any] | None
    commit: str | None
    diff: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)  # the `run:` criteria and whether they passed
    samples: list[dict[str, Any]] = field(default_factory=list)  # a sampled step's candidates, each with its diff

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "run": self.run, "status": self.status, "summary": self.summary,
                "verification": self.verification, "checks": self.checks, "commit": self.commit, "diff": self.diff,
                "samples": self.samples}


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
                       handoff.verification.dump() if handoff.verification else None, commit)
        record = read_record(project.layout, handoff.run)
        item.checks = [{"run": c.get("run"), "ok": c.get("ok")} for c in (record or {}).get("checks") or []]
        if handoff.status == "uncertain" and handoff.verification is None:  # its samples disagreed
            item.samples = sample_candidates(root, run_folder(project.layout, handoff.run), record or {}, with_diff)
        found.append(item)
    if with_diff:
        steps = [(p.commit, project.handoffs[p.task].model.dump(),
                  run_folder(project.layout, p.run)) for p in found]
        for item, diff in zip(found, output_diffs(root, steps)):
            item.diff = diff
    return found


def sample_candidates(root: Path, folder: Path, record: dict[str, Any], with_diff: bool) -> list[dict[str, Any]]:
    """The samples of an uncertain sampled run, each with its group and (with `with_diff`) the diff of its
    outputs against the files as they are."""
    layout = Layout(root)
    found = []
    for entry in record.get("samples") or []:
        number = entry.get("sample")
        one = {k: entry.get(k) for k in ("sample", "ok", "group", "outputs", "failure")}
        if with_diff and entry.get("ok") and isinstance(number, int):
            base = folder / "samples" / f"sample-{number}" / "proposed"
            parts = []
            for rel in sorted(entry.get("outputs") or {}):
                new = (base / rel).read_bytes() if record_file(layout, base / rel) else b""
                old = (root / rel).read_bytes() if (root / rel).is_file() else None
                parts.append(_file_diff(rel, old, new, True))
            one["diff"] = "".join(parts)
        found.append(one)
    return found


@record
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


def record_review(directory: Path, task: str, state: str, reason: str | None = None,
                  sample: int | None = None) -> ReviewResult:
    """Write `review:` into the task's handoff and commit it (the handoff file only). Approving an `uncertain`
    run lands the outputs it proposed (with `sample`, that sample's) in the same commit."""
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
        landed: dict[str, bytes] = {}
        deleted: list[str] = []
        if state == "approved" and meta.get("status") == "uncertain":
            from agentfiles.core.fingerprint import digest_bytes
            from agentfiles.runner.settle import uncertain_outputs

            landed, deleted = uncertain_outputs(layout, git, task, meta, sample)
            meta["status"], meta["outputs"] = "done", {rel: digest_bytes(data) for rel, data in landed.items()}
            meta.pop("deleted", None)
            if deleted:
                meta["deleted"] = deleted
            meta.pop("failure", None)
            if sample is not None:
                reason = reason or f"chose sample {sample}"
        elif sample is not None:
            raise UsageError("--sample chooses among the samples of an uncertain run",
                             hint=f"run {run} of {task} is {meta.get('status')}")
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
        from agentfiles.core.handoffs import Handoff
        from agentfiles.core.schema import parse

        parse(Handoff, meta)  # what we write must load again
        atomic_write(path, dump_document(meta, doc.body).encode("utf-8"))
        for out, data in landed.items():
            (root / out).parent.mkdir(parents=True, exist_ok=True)
            atomic_write(root / out, data)
        for out in deleted:
            (root / out).unlink()
        verb = "approve" if state == "approved" else "reject"
        lines = [f"agents({task}): {verb} run {run}", ""]
        if reason:
            lines += [reason, ""]
        lines += [f"Agents-Task: {task}", f"Agents-Run: {run}", f"Agents-Review: {state}"]
        try:
            commit = git.commit_paths([rel, *sorted(landed), *deleted], "\n".join(lines) + "\n")
        except BaseException:
            for undo in [rel, *landed, *deleted]:  # the review did not land: undo the edits
                if git.run("checkout", "HEAD", "--", undo, check=False).returncode != 0:
                    (root / undo).unlink(missing_ok=True)
            raise
        return ReviewResult(task, run, state, commit, reason, review["by"], earlier)
    finally:
        git.close()
        lock.release()
