"""The pydantic models of config, role and task, which explain a document the fast path (core/models.py)
refused: each problem with its location, in the words core/diagnostics.py turns into messages. They run
the same rules (core/rules.py); tests/core/test_schema_paths.py holds both paths to the same answers."""

# No `from __future__ import annotations` here (see core/explain_fields.py).

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from agentfiles.core.explain_fields import Amount, Count, RepoPath, RoleNames, Strict, TaskId
from agentfiles.core.fields import Executor, IsolationMode
from agentfiles.core.rules import (
    always_commits,
    cluster_address,
    label_values_as_text,
    limits_by_alias,
    no_signing,
    one_criterion_kind,
    one_input_kind,
    task_consistent,
    task_data,
    toolchain_paths,
)


class Budget(Strict):
    """Limits of one step; a missing value falls back from task to role to config."""

    context_tokens: Count | None = Field(None, gt=0)
    output_tokens: Count | None = Field(None, gt=0)
    usd: Amount | None = Field(None, gt=0)
    precise: bool | None = None  # count the context's tokens with the API instead of the local estimate


# ---------------------------------------------------------------------------------------------- config


class Price(Strict):
    """US dollars per million tokens."""

    input: Amount = Field(ge=0)
    output: Amount = Field(ge=0)
    cache_write: Amount = Field(0.0, ge=0)
    cache_read: Amount = Field(0.0, ge=0)


class ApiLimit(Strict):
    """What a model's provider allows this account at once: requests in flight, tokens a minute."""

    concurrent: Count | None = Field(None, ge=1)
    tokens_per_minute: Count | None = Field(None, ge=1)


# Used for a model `api.limits` says nothing of: low enough for most accounts' limits, so that parallel
# steps share them instead of each finding them out through 429s.
DEFAULT_LIMIT = ApiLimit(concurrent=5, tokens_per_minute=400_000)


class ApiSettings(Strict):
    provider: Literal["anthropic", "bedrock", "vertex"] = "anthropic"
    base_url: str | None = None
    retries: Count = Field(4, ge=0, le=20)
    backoff_s: Amount = Field(1.0, ge=0)  # first retry waits about this long, doubling each time
    stall_s: Amount = Field(60.0, gt=0)
    timeout_s: Amount = Field(600.0, gt=0)
    # Per model id (or alias: opus, sonnet, haiku), and `default` for the others: shared by every call of a run.
    limits: dict[str, ApiLimit] = Field(default_factory=dict)


class CommitPolicy(Strict):
    enabled: bool = True  # accepted as written by earlier `agents init`; false is refused, as is sign: true
    sign: bool = False
    definitions: bool = True  # commit uncommitted task/role/config/context files before the steps; false: refuse

    @field_validator("enabled")
    @classmethod
    def _always_commits(cls, value: bool) -> bool:
        return always_commits(value)

    @field_validator("sign")
    @classmethod
    def _no_signing(cls, value: bool) -> bool:
        return no_signing(value)


class Config(Strict):
    """`.agents/config.yaml`: project defaults."""

    schema_version: int = Field(1, alias="schema", ge=1, le=1)
    model: str = "sonnet"
    models: dict[str, str] = Field(default_factory=dict)
    executor: Executor = "auto"
    jobs: Count = Field(4, ge=1, le=256)
    max_turns: Count = Field(30, ge=1)
    timeout: Amount | None = Field(None, gt=0)
    verifier: RoleNames = None  # a list is a panel (docs/convention.md, "Verifier panels")
    budget: Budget = Field(default_factory=Budget)
    api: ApiSettings = Field(default_factory=ApiSettings)
    commit: CommitPolicy = Field(default_factory=CommitPolicy)
    prices: dict[str, Price] = Field(default_factory=dict)
    isolation: IsolationMode = "auto"
    network: bool = False  # may the processes of a step reach the network (an OS-isolated step cannot by default)
    toolchain: list[str] = Field(default_factory=list)  # more folders steps see read-only (e.g. a virtualenv)
    cache: bool = True  # may a step take the outputs of an earlier run with its definition and inputs (runner/cache.py)
    cluster: str | None = None  # a Dask scheduler's address, or local:N, to run steps on (runner/cluster.py)

    @model_validator(mode="after")
    def _limits_by_alias(self) -> "Config":
        limits_by_alias(self)
        return self

    @field_validator("cluster")
    @classmethod
    def _cluster_address(cls, value: str | None) -> str | None:
        return cluster_address(value)

    @field_validator("toolchain")
    @classmethod
    def _toolchain_paths(cls, value: list[str]) -> list[str]:
        return toolchain_paths(value)


# ------------------------------------------------------------------------------------------------ role


class RoleExtras(Strict):
    """Our keys inside a role file, under `agents:`."""

    labels: dict[str, str | list[str]] = Field(default_factory=dict)
    budget: Budget | None = None
    max_turns: Count | None = Field(None, ge=1)
    isolation: IsolationMode | None = None  # Claude Code's own `isolation` key means something else
    network: bool | None = None
    cache: bool | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _label_values_as_text(cls, value: Any) -> Any:
        return label_values_as_text(value)


class Role(Strict):
    """A role (agent definition) in Claude Code's subagent format."""

    name: str
    description: str
    model: str | None = None
    tools: str | list[str] | None = None
    agents: RoleExtras = Field(default_factory=RoleExtras)
    # Claude Code's own keys: accepted for compatibility, not used by the runner.
    disallowedTools: str | list[str] | None = None  # noqa: N815
    permissionMode: str | None = None  # noqa: N815
    maxTurns: int | None = None  # noqa: N815
    skills: str | list[str] | None = None
    mcpServers: Any = None  # noqa: N815
    hooks: Any = None
    memory: str | None = None
    background: bool | None = None
    isolation: str | None = None
    color: str | None = None
    effort: str | None = None
    disabled: bool | None = None

    @field_validator("agents", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


# ------------------------------------------------------------------------------------------------ task


class Input(Strict):
    """One entry of a task's `inputs`: a path or glob (optionally as an outline), or a handoff."""

    path: RepoPath | None = None
    view: Literal["full", "outline"] = "full"
    handoff: TaskId | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Input":
        one_input_kind(self)
        return self


class Criterion(Strict):
    """One acceptance criterion: prose judged by the verifier, or `run:` a command that must exit 0."""

    text: str | None = None
    run: str | None = None
    timeout: Amount | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> "Criterion":
        one_criterion_kind(self)
        return self


class Task(Strict):
    """A task file's frontmatter (CONVENTION.md section 3); the body is the intent."""

    title: str = Field(min_length=1)
    role: str | None = None
    select: dict[str, str] | None = None
    route: Literal["labels", "model"] = "labels"
    needs: list[TaskId] = Field(default_factory=list)
    inputs: list[Input] = Field(default_factory=list)
    outputs: list[RepoPath] = Field(default_factory=list)  # files, and globs or folders of files it may change
    acceptance: list[Criterion] = Field(default_factory=list)
    # One role, or a panel: several roles each judging in a clean context, deciding by `agree`. A single name
    # stays a string (not a list of one), so the definition of an existing task does not change.
    verifier: RoleNames = None
    agree: Literal["all", "majority"] = "all"
    # The doer runs this many times; the majority output goes on. Strict: `samples: true` is not a count.
    samples: int = Field(1, ge=1, le=9, strict=True)
    compare: Literal["bytes", "verifier"] = "bytes"  # how samples are compared: byte for byte, or judged
    retries: Count = Field(0, ge=0, le=10)
    budget: Budget | None = None
    executor: Executor = "auto"
    run: str | None = None
    env: list[str] = Field(default_factory=list)
    timeout: Amount | None = Field(None, gt=0)
    foreach: RepoPath | None = None
    mode: Literal["single", "discussion"] = "single"
    participants: list[str] = Field(default_factory=list)
    rounds: Count = Field(1, ge=1, le=20)
    model: str | None = None
    max_turns: Count | None = Field(None, ge=1)
    isolation: IsolationMode | None = None
    network: bool | None = None
    publish_secrets: list[str] = Field(default_factory=list)  # secret variables its outputs may hold
    cache: bool | None = None  # false: always run it afresh, never from the run cache

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        return task_data(data)

    @model_validator(mode="after")
    def _consistent(self) -> "Task":
        task_consistent(self)
        return self
