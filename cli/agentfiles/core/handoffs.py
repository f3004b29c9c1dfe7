"""A handoff file's frontmatter (CONVENTION.md section 5): what a step ran from, what it read and wrote
(sha256 each), how it ended, its verification, routing and review; the body is the summary. Read through
core/schema.py; core/explain_handoffs.py explains a handoff these refuse."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, field

from agentfiles.core.fields import (
    CommitSha,
    Digest,
    FailureKind,
    HandoffStatus,
    Strict,
    input_key,
    repo_path,
    run_id,
    step_id,
)


class Usage(Strict):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0
    turns: int = 0
    duration_s: float = 0.0


class Failure(Strict):
    kind: FailureKind
    detail: str = ""


class CheckVerdict(Strict):
    criterion: str
    verdict: Literal["pass", "fail", "uncertain"]  # uncertain: the judges of a panel disagree on it
    evidence: str = ""


class JudgeVerdict(Strict, kw_only=True):
    """One judge of a verifier panel: its role, model, verdict and every check with its evidence."""

    verifier: str
    model: str | None = None
    verdict: Literal["pass", "fail"]
    checks: list[CheckVerdict] = field(default_factory=list)


class Verification(Strict):
    verdict: Literal["pass", "fail", "uncertain"]
    verifier: str | None = None
    checks: list[CheckVerdict] = field(default_factory=list)
    agree: Literal["all", "majority"] | None = None  # a panel's rule
    panel: list[JudgeVerdict] = field(default_factory=list)  # a panel's judges, each as it judged


class Candidate(Strict):
    role: str
    score: float
    matched: list[str] = field(default_factory=list)


class Routing(Strict):
    role: str
    reason: str = ""
    method: Literal["labels", "model"] = "labels"
    candidates: list[Candidate] = field(default_factory=list)


class Review(Strict):
    state: Literal["approved", "rejected"]
    by: str | None = None
    at: str | None = None
    reason: str | None = None


class CachedApproval(Strict):
    """The person's approval behind outputs the run cache served: of which run, in which commit, by whom."""

    run: str
    commit: CommitSha
    by: str | None = None
    at: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        run_id(self.run)


class Handoff(Strict, kw_only=True):
    """`.agents/handoffs/<task>.md` frontmatter (CONVENTION.md section 5); the body is the summary."""

    schema_version: Annotated[int, Meta(ge=1, le=1)] = field(default=1, name="schema")
    task: str
    item: str | None = None  # the file a foreach step ran for
    run: str
    status: HandoffStatus
    role: str | None = None
    executor: str | None = None
    model: str | None = None
    isolation: Literal["os", "folder"] | None = None
    definition: Digest | None = None
    # What the definition was made of (task, role, model, config), so a change can be named: `role changed: x`.
    definition_parts: dict[Literal["task", "role", "model", "config"], Digest] = field(default_factory=dict)
    inputs: dict[str, Digest] = field(default_factory=dict)
    outputs: dict[str, Digest] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # files matching its output globs that it deleted
    upstream: dict[str, str] = field(default_factory=dict)
    usage: Usage | None = None
    failure: Failure | None = None
    verification: Verification | None = None
    routing: Routing | None = None
    review: Review | None = None
    cached_from: str | None = None  # the earlier run whose outputs it took (the run cache)
    cached_approval: CachedApproval | None = None  # and the approval of them, when a person approved them
    started: str | None = None
    finished: str | None = None

    def __post_init__(self) -> None:
        step_id(self.task)
        run_id(self.run)
        if self.item is not None:
            self.item = repo_path(self.item)
        if self.cached_from is not None:
            run_id(self.cached_from)
        self.inputs = {input_key(key): digest for key, digest in self.inputs.items()}
        self.outputs = {repo_path(key): digest for key, digest in self.outputs.items()}
        self.deleted = [repo_path(path) for path in self.deleted]
        for step, run in self.upstream.items():
            step_id(step)
            run_id(run)


def handoff_data(data: dict[str, Any]) -> dict[str, Any]:
    """What pydantic's before-validator of a handoff does: `inputs:` or `outputs:` with nothing is `{}`."""
    if data.get("inputs", 0) is None or data.get("outputs", 0) is None:
        return {**data, **{key: {} for key in ("inputs", "outputs") if key in data and data[key] is None}}
    return data
