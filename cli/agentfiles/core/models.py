"""Typed documents of the convention's files: config, role and task (CONVENTION.md sections 2-4; handoffs
are core/handoffs.py, the field types core/fields.py), read through core/schema.py.

Every document forbids unknown keys, so a typo is an error that names the nearest valid key. The checks
beyond types are core/rules.py, which core/explain_models.py runs too: both paths decide alike."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, field

from agentfiles.core.fields import (
    Executor,
    IsolationMode,
    RoleNames,
    Strict,
    as_names,
    layout,
    repo_path,
    task_id,
)
from agentfiles.core.rules import (
    always_commits,
    cluster_address,
    limits_by_alias,
    no_signing,
    one_criterion_kind,
    one_input_kind,
    task_consistent,
    toolchain_paths,
)

Positive = Annotated[float, Meta(gt=0)]
PositiveInt = Annotated[int, Meta(gt=0)]
AtLeastOne = Annotated[int, Meta(ge=1)]
NotNegative = Annotated[float, Meta(ge=0)]


class Budget(Strict):
    """Limits of one step; a missing value falls back from task to role to config."""

    context_tokens: PositiveInt | None = None
    output_tokens: PositiveInt | None = None
    usd: Positive | None = None
    precise: bool | None = None  # count the context's tokens with the API instead of the local estimate

    def over(self, fallback: Budget | None) -> Budget:
        """This budget with its unset values taken from `fallback`."""
        if fallback is None:
            return self
        return Budget(
            context_tokens=self.context_tokens or fallback.context_tokens,
            output_tokens=self.output_tokens or fallback.output_tokens,
            usd=self.usd or fallback.usd,
            precise=self.precise if self.precise is not None else fallback.precise,
        )


# ---------------------------------------------------------------------------------------------- config


class Price(Strict):
    """US dollars per million tokens."""

    input: NotNegative
    output: NotNegative
    cache_write: NotNegative = 0.0
    cache_read: NotNegative = 0.0


class ApiLimit(Strict):
    """What a model's provider allows this account at once: requests in flight, tokens a minute."""

    concurrent: AtLeastOne | None = None
    tokens_per_minute: AtLeastOne | None = None


# Used for a model `api.limits` says nothing of: low enough for most accounts' limits, so that parallel
# steps share them instead of each finding them out through 429s.
DEFAULT_LIMIT = ApiLimit(concurrent=5, tokens_per_minute=400_000)


class ApiSettings(Strict):
    provider: Literal["anthropic", "bedrock", "vertex"] = "anthropic"
    base_url: str | None = None
    retries: Annotated[int, Meta(ge=0, le=20)] = 4
    backoff_s: NotNegative = 1.0  # first retry waits about this long, doubling each time
    stall_s: Positive = 60.0
    timeout_s: Positive = 600.0
    # Per model id (or alias: opus, sonnet, haiku), and `default` for the others: shared by every call of a run.
    limits: dict[str, ApiLimit] = field(default_factory=dict)

    def limit(self, model: str) -> ApiLimit:
        """The limits of calls to `model`: its own entry (by id or alias), else `default`, else DEFAULT_LIMIT."""
        for name, limit in self.limits.items():
            if name == model or DEFAULT_MODELS.get(name) == model:
                return limit
        return self.limits.get("default", DEFAULT_LIMIT)


class CommitPolicy(Strict):
    enabled: bool = True  # accepted as written by earlier `agents init`; false is refused, as is sign: true
    sign: bool = False
    definitions: bool = True  # commit uncommitted task/role/config/context files before the steps; false: refuse

    def __post_init__(self) -> None:
        always_commits(self.enabled)
        no_signing(self.sign)


# Model aliases (Claude Code's names) and list prices in USD per million tokens, used where the config
# does not say otherwise. Cache writes are 1.25x input, cache reads 0.1x input.
DEFAULT_MODELS = {
    "opus": "claude-opus-4-6",
    "sonnet": "claude-sonnet-4-6",
    "haiku": "claude-haiku-4-5",
}
DEFAULT_PRICES = {
    "claude-opus-4-6": Price(input=5.0, output=25.0, cache_write=6.25, cache_read=0.5),
    "claude-sonnet-4-6": Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3),
    "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_write=1.25, cache_read=0.1),
}


class Config(Strict):
    """`.agents/config.yaml`: project defaults."""

    schema_version: Annotated[int, Meta(ge=1, le=1)] = field(default=1, name="schema")
    model: str = "sonnet"
    models: dict[str, str] = field(default_factory=dict)
    executor: Executor = "auto"
    jobs: Annotated[int, Meta(ge=1, le=256)] = 4
    max_turns: AtLeastOne = 30
    timeout: Positive | None = None
    verifier: RoleNames = None  # a list is a panel (docs/convention.md, "Verifier panels")
    budget: Budget = field(default_factory=Budget)
    api: ApiSettings = field(default_factory=ApiSettings)
    commit: CommitPolicy = field(default_factory=CommitPolicy)
    prices: dict[str, Price] = field(default_factory=dict)
    isolation: IsolationMode = "auto"
    network: bool = False  # may the processes of a step reach the network (an OS-isolated step cannot by default)
    toolchain: list[str] = field(default_factory=list)  # more folders steps see read-only (e.g. a virtualenv)
    cache: bool = True  # may a step take the outputs of an earlier run with its definition and inputs (runner/cache.py)
    cluster: str | None = None  # a Dask scheduler's address, or local:N, to run steps on (runner/cluster.py)

    def __post_init__(self) -> None:
        cluster_address(self.cluster)
        toolchain_paths(self.toolchain)
        limits_by_alias(self)

    def resolve_model(self, name: str | None) -> str:
        """A model alias (or None / `inherit`) to the model id sent to the API."""
        if not name or name == "inherit":
            name = self.model
        return self.models.get(name) or DEFAULT_MODELS.get(name, name)

    def price(self, model_id: str) -> Price | None:
        return self.prices.get(model_id) or DEFAULT_PRICES.get(model_id)


# ------------------------------------------------------------------------------------------------ role


class RoleExtras(Strict):
    """Our keys inside a role file, under `agents:`."""

    labels: dict[str, str | list[str]] = field(default_factory=dict)
    budget: Budget | None = None
    max_turns: AtLeastOne | None = None
    isolation: IsolationMode | None = None  # Claude Code's own `isolation` key means something else
    network: bool | None = None
    cache: bool | None = None


class Role(Strict):
    """A role (agent definition) in Claude Code's subagent format."""

    name: str
    description: str
    model: str | None = None
    tools: str | list[str] | None = None
    agents: RoleExtras = field(default_factory=RoleExtras)
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

    def labels(self) -> dict[str, list[str]]:
        return {
            k: (list(v) if isinstance(v, list) else [v]) for k, v in self.agents.labels.items()
        }


# ------------------------------------------------------------------------------------------------ task


class Input(Strict):
    """One entry of a task's `inputs`: a path or glob (optionally as an outline), or a handoff."""

    path: str | None = None
    view: Literal["full", "outline"] = "full"
    handoff: str | None = None

    def __post_init__(self) -> None:
        if self.path is not None:
            self.path = repo_path(self.path)
        if self.handoff is not None:
            task_id(self.handoff)
        one_input_kind(self)

    @property
    def key(self) -> str:
        return f"handoff:{self.handoff}" if self.handoff else str(self.path)


class Criterion(Strict):
    """One acceptance criterion: prose judged by the verifier, or `run:` a command that must exit 0."""

    text: str | None = None
    run: str | None = None
    timeout: Positive | None = None

    def __post_init__(self) -> None:
        one_criterion_kind(self)


class Task(Strict, dict=True):
    """A task file's frontmatter (CONVENTION.md section 3); the body is the intent. It keeps the keys its
    file gave (`fields_set`): validation tells `agree: all` written from the default."""

    title: Annotated[str, Meta(min_length=1)]
    role: str | None = None
    select: dict[str, str] | None = None
    route: Literal["labels", "model"] = "labels"
    needs: list[str] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)  # files, and globs or folders of files it may change
    acceptance: list[Criterion] = field(default_factory=list)
    # One role, or a panel: several roles each judging in a clean context, deciding by `agree`. A single name
    # stays a string (not a list of one), so the definition of an existing task does not change.
    verifier: RoleNames = None
    agree: Literal["all", "majority"] = "all"
    # The doer runs this many times; the majority output goes on. Strict: `samples: true` is not a count.
    samples: Annotated[int, Meta(ge=1, le=9)] = 1
    compare: Literal["bytes", "verifier"] = "bytes"  # how samples are compared: byte for byte, or judged
    retries: Annotated[int, Meta(ge=0, le=10)] = 0
    budget: Budget | None = None
    executor: Executor = "auto"
    run: str | None = None
    env: list[str] = field(default_factory=list)
    timeout: Positive | None = None
    foreach: str | None = None
    mode: Literal["single", "discussion"] = "single"
    participants: list[str] = field(default_factory=list)
    rounds: Annotated[int, Meta(ge=1, le=20)] = 1
    model: str | None = None
    max_turns: AtLeastOne | None = None
    isolation: IsolationMode | None = None
    network: bool | None = None
    publish_secrets: list[str] = field(default_factory=list)  # secret variables its outputs may hold
    cache: bool | None = None  # false: always run it afresh, never from the run cache

    def __post_init__(self) -> None:
        for need in self.needs:
            task_id(need)
        self.outputs = [repo_path(path) for path in self.outputs]
        if self.foreach is not None:
            self.foreach = repo_path(self.foreach)
        task_consistent(self)

    @property
    def fields_set(self) -> frozenset[str]:
        """The keys its document gave (for a task made in code: those that differ from their defaults)."""
        given = self.__dict__.get("given")
        if given is None:
            return frozenset(name for name, _, default in layout(Task) if getattr(self, name) != default)
        return given

    @property
    def is_command(self) -> bool:
        return self.executor == "command" or (self.executor == "auto" and bool(self.run))

    @property
    def kind(self) -> str:
        """`command` for a deterministic node, `agent` for a model step."""
        return "command" if self.is_command else "agent"

    @property
    def modes(self) -> list[str]:
        """The execution modes this task uses: parallel (`foreach`), delegated (`select`), handoff (reads an
        upstream handoff), discussion; a task using none of them is sequential (dependency order)."""
        found = [
            name
            for name, used in (
                ("parallel", bool(self.foreach)),
                ("delegated", self.select is not None),
                ("handoff", any(i.handoff for i in self.inputs)),
                ("discussion", self.mode == "discussion"),
            )
            if used
        ]
        return found or ["sequential"]

    @property
    def verifiers(self) -> list[str]:
        """The task's own verifier roles (a panel, one role, or none)."""
        return as_names(self.verifier)

    @property
    def prose_criteria(self) -> list[str]:
        return [c.text for c in self.acceptance if c.text is not None]

    @property
    def checks(self) -> list[Criterion]:
        return [c for c in self.acceptance if c.run is not None]
