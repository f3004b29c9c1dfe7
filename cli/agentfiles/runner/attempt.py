"""What the steps of one run share (the run context), what one go at a step produced (an attempt), and what
a landed step reports (its outcome)."""

from __future__ import annotations

import threading
from dataclasses import field
from typing import TYPE_CHECKING, Any, Callable

from agentfiles.core.records import record

if TYPE_CHECKING:
    from agentfiles.executors.base import Executor, StepResult
    from agentfiles.executors.isolation import Isolation
    from agentfiles.core.project import Project
    from agentfiles.runner.agent import AgentPlan
    from agentfiles.runner.cache import CachedRun, RunCache
    from agentfiles.runner.resolve import ResolvedStep
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git


@record
class RunContext:
    """What the steps of one `agents run` share."""

    project: Project
    git: Git
    executor_for: Callable[..., Executor]  # (step id, model=False): model=True, the model executor
    isolation_for: Callable[[str], Isolation]  # (step id): how its processes are confined
    tripwire: Tripwire | None = None  # watches the repository for changes no step declared
    commit_lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: threading.Event = field(default_factory=threading.Event)
    processes: Any = None  # a ProcessRegistry
    index_behind: list[str] = field(default_factory=list)  # steps whose commit git's index has not followed
    check_trees: Any = None  # the run's checkouts of HEAD for `run:` checks (storage.git.CheckTrees)
    on_event: Callable[[str, object], None] = lambda kind, payload: None  # progress: ("retry", Retry), ...
    rollout: str | None = None  # the id of the progressive rollout this run is (`run --canary`), in each commit
    cache: RunCache | None = None  # earlier runs a step may take its outputs from (None: --no-cache, --force)
    execute: Callable[..., Any] | None = None  # how a request is carried out (runner/execute.py; a cluster's)

    @property
    def root(self):  # type: ignore[no-untyped-def]
        return self.project.layout.root


class StepCancelled(Exception):
    """The run was interrupted before this step committed anything."""


@record
class Attempt:
    """One go at a step: the doer (or command), its collected outputs, its checks and its verdict."""

    number: int
    result: StepResult
    plan: AgentPlan | None
    outputs: dict[str, bytes]
    checks: list[dict[str, Any]]
    input_hashes: dict[str, str]
    upstream: dict[str, str]
    env_names: list[str]
    withheld: list[str]
    feedback: list[tuple[str, str]]
    isolation: Isolation
    verification: dict[str, Any] | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # the doer's, the verifier's, a discussion's
    deleted: list[str] = field(default_factory=list)  # files under its output globs it deleted
    extra: dict[str, Any] = field(default_factory=dict)  # more run-record facts (verifier, discussion, router)
    duration_s: float = 0.0  # from its sandbox's setup to its verdict
    cached: CachedRun | None = None  # the earlier run whose outputs it took instead of running (runner/cache.py)

    @property
    def rejected(self) -> bool:
        return self.result.failure_kind == "rejected"

    @property
    def uncertain(self) -> bool:
        """Its verifier panel or its samples disagree: nothing lands until a person decides."""
        return self.result.failure_kind == "uncertain"

    def fail(self, kind: str, detail: str) -> None:
        """Mark a so-far successful attempt failed (the first failure found is the one reported)."""
        if self.result.ok:
            self.result.ok, self.result.failure_kind, self.result.failure_detail = False, kind, detail


@record
class Finished:
    """A step carried out and judged, waiting to land: its last attempt and the earlier ones."""

    step: ResolvedStep
    run_id: str
    started: str  # when it started (UTC, for the handoff)
    clock: float  # time.monotonic() at its start
    attempt: Attempt
    earlier: list[Attempt] = field(default_factory=list)

    @property
    def task(self) -> str:
        return self.step.step_id


@record
class Retry:
    """A step about to try again, said as it happens: its verifier rejected an attempt (`what` is
    `attempt`), a call to the model API failed and is retried (`API call`), or the cluster worker it was
    on died and Dask runs it on another (`worker`; `of` is 0, as Dask's own limit decides)."""

    task: str
    number: int  # the try about to start
    of: int  # tries in all
    why: str
    what: str = "attempt"


@record
class Wait:
    """A step's model call held back by the run's rate governor (api.limits, or a pause the API asked for)."""

    task: str
    why: str


@record
class StepOutcome:
    """A landed step, as the run reports it: its status, commit and what it changed."""

    task: str
    run_id: str
    status: str  # done | failed | rejected | uncertain
    failure_kind: str | None = None
    failure_detail: str = ""
    commit: str | None = None
    duration_s: float = 0.0
    changed: list[str] = field(default_factory=list)
    cached_from: str | None = None  # the earlier run whose outputs it took (the run cache)
    cached_approval: str | None = None  # the commit of a person's approval of those outputs
    cached_approver: str | None = None  # and who approved them

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "run": self.run_id,
            "status": self.status,
            "failure": {"kind": self.failure_kind, "detail": self.failure_detail} if self.failure_kind else None,
            "commit": self.commit,
            "duration_s": self.duration_s,
            "changed": self.changed,
            "cached_from": self.cached_from,
            "cached_approval": self.cached_approval,
        }
