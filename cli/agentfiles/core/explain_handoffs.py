"""The pydantic model of a handoff's frontmatter, which explains a handoff the fast path (core/handoffs.py)
refused; the same fields and checks."""

# No `from __future__ import annotations` here (see core/explain_fields.py).

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from agentfiles.core.explain_fields import Digest, InputKey, RepoPath, RunId, StepId, Strict
from agentfiles.core.fields import FailureKind, HandoffStatus


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


class JudgeVerdict(Strict):
    """One judge of a verifier panel: its role, model, verdict and every check with its evidence."""

    verifier: str
    model: str | None = None
    verdict: Literal["pass", "fail"]
    checks: list[CheckVerdict] = Field(default_factory=list)


class Verification(Strict):
    verdict: Literal["pass", "fail", "uncertain"]
    verifier: str | None = None
    checks: list[CheckVerdict] = Field(default_factory=list)
    agree: Literal["all", "majority"] | None = None  # a panel's rule
    panel: list[JudgeVerdict] = Field(default_factory=list)  # a panel's judges, each as it judged


class Candidate(Strict):
    role: str
    score: float
    matched: list[str] = Field(default_factory=list)


class Routing(Strict):
    role: str
    reason: str = ""
    method: Literal["labels", "model"] = "labels"
    candidates: list[Candidate] = Field(default_factory=list)


class Review(Strict):
    state: Literal["approved", "rejected"]
    by: str | None = None
    at: str | None = None
    reason: str | None = None


class CachedApproval(Strict):
    """The person's approval behind outputs the run cache served: of which run, in which commit, by whom."""

    run: RunId
    commit: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
    by: str | None = None
    at: str | None = None
    reason: str | None = None


class Handoff(Strict):
    """`.agents/handoffs/<task>.md` frontmatter (CONVENTION.md section 5); the body is the summary."""

    schema_version: int = Field(1, alias="schema", ge=1, le=1)
    task: StepId
    item: RepoPath | None = None  # the file a foreach step ran for
    run: RunId
    status: HandoffStatus
    role: str | None = None
    executor: str | None = None
    model: str | None = None
    isolation: Literal["os", "folder"] | None = None
    definition: Digest | None = None
    # What the definition was made of (task, role, model, config), so a change can be named: `role changed: x`.
    definition_parts: dict[Literal["task", "role", "model", "config"], Digest] = Field(default_factory=dict)
    inputs: dict[InputKey, Digest] = Field(default_factory=dict)
    outputs: dict[RepoPath, Digest] = Field(default_factory=dict)
    deleted: list[RepoPath] = Field(default_factory=list)  # files matching its output globs that it deleted
    upstream: dict[StepId, RunId] = Field(default_factory=dict)
    usage: Usage | None = None
    failure: Failure | None = None
    verification: Verification | None = None
    routing: Routing | None = None
    review: Review | None = None
    cached_from: RunId | None = None  # the earlier run whose outputs it took (the run cache)
    cached_approval: CachedApproval | None = None  # and the approval of them, when a person approved them
    started: str | None = None
    finished: str | None = None

    @field_validator("inputs", "outputs", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value
