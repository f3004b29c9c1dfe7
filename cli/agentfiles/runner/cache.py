"""The run cache (DVC's run cache, for steps): a step whose definition and input hashes equal those of an
earlier successful run anywhere in the repository's history (any branch, a rewound or reverted one too)
takes that run's outputs from git instead of running again, unless a person rejected that run in review.
An `uncertain` run a person approved counts as successful: its outputs are those the approval landed.

The history is read in one pass and kept as an index in `.agents/cache/run-cache.json`, with the commits
it has read; the next run reads only the commits that are new since (`git log --all --not <those>`).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import field
from pathlib import Path
from typing import Any

import orjson

from agentfiles.core.fingerprint import digest_bytes
from agentfiles.core.records import record
from agentfiles.storage.files import atomic_write
from agentfiles.storage.git import Git
from agentfiles.storage.history import parse_trailers

INDEX_VERSION = 2  # 2: approvals of uncertain runs are indexed
SCRATCH = "refs/agents/"  # where a batch of commits is built before it lands: not history yet


@record
class CachedRun:
    """An earlier successful run of a step: where it landed and what its handoff said."""

    task: str
    run: str
    commit: str
    meta: dict[str, Any]  # its handoff's frontmatter
    body: str  # and its markdown
    approval: dict[str, Any] | None = None  # a person's approval of these outputs: {run, commit, by, at, reason}
    outputs: dict[str, bytes] = field(default_factory=dict)  # filled by `RunCache.outputs`


def cache_key(task: str, definition: str | None, inputs: dict[str, str]) -> str:
    text = orjson.dumps({"task": task, "definition": definition, "inputs": inputs}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()


class RunCache:
    """The earlier successful runs of every step in the history, by cache key; built on first use."""

    def __init__(self, root: Path, index: Path, fresh: frozenset[str] = frozenset(), git: Git | None = None) -> None:
        self.git = git or Git(root)  # the run's, so that its tripwire guards these calls too
        self.index = index
        self.fresh = fresh  # steps that always run afresh: those a rollout runs to compare with their previous run
        self.lock = threading.Lock()
        self.runs: dict[str, dict[str, Any]] | None = None  # key -> {task, run, commit, meta, body, approval}
        self.reviews: dict[str, str] = {}  # run -> the state of its latest review

    def lookup(self, task: str, definition: str | None, inputs: dict[str, str]) -> CachedRun | None:
        """The earlier run with this key whose outputs git still has, byte for byte; None if there is none."""
        if definition is None or task in self.fresh:
            return None
        with self.lock:
            if self.runs is None:
                self._load()
            assert self.runs is not None
            found = self.runs.get(cache_key(task, definition, inputs))
        if found is None or self.reviews.get(found["run"]) == "rejected":
            return None
        approval = found.get("approval")
        if approval and self.reviews.get(approval.get("run")) == "rejected":
            return None  # a copy served from an approved run: the approval behind it was withdrawn since
        cached = CachedRun(task, found["run"], found["commit"], found["meta"], found["body"], found.get("approval"))
        wanted = dict(found["meta"].get("outputs") or {})
        blobs = self.git.blobs([f"{cached.commit}:{rel}" for rel in wanted])
        for (rel, digest), data in zip(wanted.items(), blobs):
            if data is None or digest_bytes(data) != digest:
                return None  # not as recorded (a filter, a rewritten history): run it instead
            cached.outputs[rel] = data
        return cached

    def _load(self) -> None:
        """Read the saved index, then the step and review commits new since it was saved (oldest first,
        so that a later review of a run decides), and save it again when anything was added."""
        seen: list[str] = []
        self.runs = {}
        try:
            data = orjson.loads(self.index.read_bytes())
            if data.get("version") == INDEX_VERSION:
                seen, self.runs, self.reviews = list(data["seen"]), dict(data["runs"]), dict(data["reviews"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            seen, self.runs, self.reviews = [], {}, {}
        refs = self.git.run("for-each-ref", "--format=%(refname) %(objectname)", check=False).stdout.decode()
        tips = {sha for name, _, sha in (line.partition(" ") for line in refs.splitlines())
                if sha and not name.startswith(SCRATCH)}
        heads = sorted(tips | ({self.git.head()} - {None}))
        if not heads or sorted(seen) == heads:
            return
        args = ["log", "--reverse", "--format=%H%x1f%B%x1e", "--grep=^Agents-Task: ", "--stdin"]
        listing = "".join(f"{sha}\n" for sha in heads) + "".join(f"^{sha}\n" for sha in seen if sha not in heads)
        done = self.git.run(*args, input=listing.encode(), check=False)
        if done.returncode != 0:  # an index naming commits git no longer has: read the whole history
            listing = "".join(f"{sha}\n" for sha in heads)
            self.runs, self.reviews = {}, {}
            done = self.git.run(*args, input=listing.encode())
        found: list[tuple[str, dict[str, str]]] = []  # successful steps and approvals, oldest first
        for chunk in done.stdout.decode("utf-8", "replace").split("\x1e"):
            sha, _, message = chunk.strip().partition("\x1f")
            trailers = parse_trailers(message)
            if "Agents-Review" in trailers:
                self.reviews[trailers.get("Agents-Run", "")] = trailers["Agents-Review"]
                if trailers["Agents-Review"] == "approved":
                    found.append((sha, trailers))
            elif trailers.get("Agents-Status") == "done" and "Agents-Reverts" not in trailers:
                found.append((sha, trailers))
        self._add(found)
        self._save(heads)

    def _add(self, found: list[tuple[str, dict[str, str]]]) -> None:
        """Index each step commit by its handoff's key, and each approval: of a run indexed already (a `done`
        one), as the approval of its outputs; of an `uncertain` run, as the run, with the outputs the
        approval commit landed."""
        from agentfiles.core.paths import Layout
        from agentfiles.storage.documents import DocumentError, parse_document

        assert self.runs is not None
        layout = Layout(self.git.root)
        specs = [f"{sha}:{layout.rel(layout.handoff_file(trailers['Agents-Task']))}" for sha, trailers in found]
        for (sha, trailers), data in zip(found, self.git.blobs(specs)):
            try:
                doc = parse_document(data.decode("utf-8", "replace")) if data else None
            except DocumentError:
                doc = None
            meta = doc.meta if doc is not None else {}
            if meta.get("run") != trailers.get("Agents-Run") or meta.get("status") != "done":
                continue
            key = cache_key(str(meta.get("task")), meta.get("definition"), dict(meta.get("inputs") or {}))
            approval = _approval(sha, meta) if "Agents-Review" in trailers else None
            if approval is not None and self.runs.get(key, {}).get("run") == meta["run"]:
                self.runs[key]["approval"] = approval  # a done run, approved: served from its own commit
                continue
            if approval is None and "Agents-Review" in trailers:
                continue
            carried = _checked(meta.get("cached_approval"))  # served an approved run's outputs: the approval goes on
            self.runs[key] = {"task": meta.get("task"), "run": meta["run"], "commit": sha,
                              "meta": _plain(meta), "body": doc.body if doc is not None else "",
                              "approval": approval or carried}

    def _save(self, heads: list[str]) -> None:
        data = {"version": INDEX_VERSION, "seen": heads, "runs": self.runs, "reviews": self.reviews}
        try:
            atomic_write(self.index, orjson.dumps(data), sync=False)
        except OSError:
            pass  # a cache that cannot be written is read again next time


def _approval(sha: str, meta: dict[str, Any]) -> dict[str, Any] | None:
    """`{run, commit, by, at, reason}` of an approval commit whose handoff records it; None otherwise."""
    review = meta.get("review")
    if not isinstance(review, dict) or review.get("state") != "approved":
        return None
    said = {k: str(review[k]) for k in ("by", "at", "reason") if review.get(k) is not None}
    return _checked({"run": str(meta["run"]), "commit": sha, **said})


def _checked(approval: Any) -> dict[str, Any] | None:
    """`approval` if it is one a handoff may carry as its `cached_approval` (history is untrusted input)."""
    from agentfiles.core.diagnostics import Invalid
    from agentfiles.core.handoffs import CachedApproval
    from agentfiles.core.schema import parse

    try:
        return parse(CachedApproval, approval).dump(exclude_none=True) if approval is not None else None
    except Invalid:
        return None


def _plain(meta: dict[str, Any]) -> dict[str, Any]:
    """The frontmatter as JSON data (YAML may have read a date or a number where a string was meant)."""
    return orjson.loads(orjson.dumps(meta, default=str))


def body_sections(body: str) -> tuple[str, dict[str, str]]:
    """A handoff's markdown back into its summary and its other sections, by heading."""
    summary, sections, title, lines = "", {}, None, []  # type: ignore[var-annotated]
    for line in [*body.splitlines(), "## "]:
        if line.startswith("## "):
            if title == "Summary":
                summary = "\n".join(lines).strip()
            elif title:
                sections[title] = "\n".join(lines).strip()
            title, lines = line[3:].strip(), []
        else:
            lines.append(line)
    return summary, sections


def served_summary(summary: str, cached: CachedRun) -> str:
    """The summary of a step served the outputs of an uncertain run a person approved: the approval, not
    its verifiers, let them land, where that run's own summary opens `Uncertain: <why>`."""
    first, _, rest = summary.partition("\n\n")
    if not cached.approval or not first.startswith("Uncertain: "):
        return summary
    by = cached.approval.get("by") or "a person"
    why = first.removeprefix("Uncertain: ")
    return f"Approved by {by} (run {cached.run}) where its verifiers were uncertain: {why}\n\n{rest}".strip()
