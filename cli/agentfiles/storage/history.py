"""Step commits read back from HEAD's history: their trailers, the reviews and reverts that followed them,
and the handoffs they committed (storage/git.py walks the history)."""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path

from agentfiles.core.records import record
from agentfiles.storage.git import Git, grep_log


@record
class StepCommit:
    """A step's commit, read back from its trailers (and, when asked, the handoff it committed)."""

    sha: str
    subject: str
    date: str
    trailers: dict[str, str]
    handoff: dict[str, object] | None = None  # the handoff's frontmatter as committed
    handoff_body: str = ""  # and its markdown body
    reverted: bool = False  # undone by `agents rewind --in-place`
    landed_by: str | None = None  # an `uncertain` step's outputs landed with this approval commit
    reviews: list[str] = field(default_factory=list)  # the review commits of its run not reverted, newest first

    @property
    def task(self) -> str:
        return self.trailers.get("Agents-Task", "")

    @property
    def status(self) -> str | None:
        """The step's status: as its commit says, but `done` once a person's approval landed its outputs."""
        return "done" if self.landed_by else self.trailers.get("Agents-Status")

    def to_json(self) -> dict[str, object]:
        return {
            "commit": self.sha,
            "subject": self.subject,
            "date": self.date,
            "task": self.task,
            "run": self.trailers.get("Agents-Run"),
            "status": self.status,
            "role": self.trailers.get("Agents-Role"),
            "model": self.trailers.get("Agents-Model"),
            "executor": self.trailers.get("Agents-Executor"),
            "rollout": self.trailers.get("Agents-Rollout"),
            "reverted": self.reverted,
            "landed_by": self.landed_by,
            **({"usage": self.handoff.get("usage") or {}} if self.handoff is not None else {}),
        }


def parse_trailers(message: str) -> dict[str, str]:
    """`Agents-*: value` lines of a commit message's last paragraph."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    found: dict[str, str] = {}
    if not paragraphs:
        return found
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Agents-"):
            found[key] = value.strip()
    return found


def step_commits(
    root: Path, task: str | None = None, limit: int | None = None, *, handoffs: bool = False
) -> list[StepCommit]:
    """Step commits reachable from HEAD, newest first (only `task`'s when given); with `handoffs`, each
    with the handoff it committed, frontmatter and body (one `git cat-file --batch` for all of them), or,
    of an uncertain step a person approved, the handoff the approval committed with its outputs.
    Review commits (an `Agents-Review` trailer) and rewind's revert commits (`Agents-Reverts`) are not
    steps; a step a revert commit undid is marked `reverted`, one an approval landed `landed_by` it."""
    commits = _step_commits(root, task, limit)
    if handoffs and commits:
        from agentfiles.core.paths import Layout
        from agentfiles.storage.documents import DocumentError, parse_document

        layout = Layout(root)
        specs = [f"{c.landed_by or c.sha}:{layout.rel(layout.handoff_file(c.task))}" for c in commits]
        for commit, data in zip(commits, Git(root).blobs(specs)):
            try:
                doc = parse_document(data.decode("utf-8", "replace")) if data else None
            except DocumentError:
                doc = None
            commit.handoff = doc.meta if doc is not None else {}
            commit.handoff_body = doc.body if doc is not None else ""
    return commits


def _step_commits(root: Path, task: str | None, limit: int | None) -> list[StepCommit]:
    pattern = "^Agents-Task: "
    if task:  # a task's own steps, and those of its items when it is a foreach task
        pattern = f"^Agents-Task: {re.escape(task)}(@[^ ]+)?$"
    commits = []
    reverted: set[str] = set()
    approvals: dict[tuple[str, str], str] = {}  # (task, run) -> its first approval not reverted
    reviews: dict[tuple[str, str], list[str]] = {}  # (task, run) -> its reviews not reverted, newest first
    for sha, message, date in grep_log(root, pattern):
        if limit is not None and len(commits) >= limit:
            break
        trailers = parse_trailers(message)
        if "Agents-Task" not in trailers or (task and trailers["Agents-Task"].split("@", 1)[0] != task.split("@", 1)[0]):
            continue
        if task and "@" in task and trailers["Agents-Task"] != task:
            continue
        if "Agents-Reverts" in trailers:  # newer than the step it reverts: met first
            reverted.add(trailers["Agents-Reverts"])
            continue
        if "Agents-Review" in trailers:  # newer than the step it reviews: met first, the first approval last
            key = (trailers["Agents-Task"], trailers.get("Agents-Run", ""))
            if sha not in reverted:
                reviews.setdefault(key, []).append(sha)
                if trailers["Agents-Review"] == "approved":
                    approvals[key] = sha
            continue
        # Approving an uncertain step lands its outputs; approving a done one only records the review.
        landed = (approvals.get((trailers["Agents-Task"], trailers.get("Agents-Run", "")))
                  if trailers.get("Agents-Status") == "uncertain" else None)
        commits.append(
            StepCommit(
                sha=sha,
                subject=message.splitlines()[0] if message else "",
                date=date,
                trailers=trailers,
                reverted=sha in reverted,
                landed_by=landed,
                reviews=reviews.get((trailers["Agents-Task"], trailers.get("Agents-Run", "")), []),
            )
        )
    return commits
