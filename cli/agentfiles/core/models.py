"""Typed models of the convention's files: config, role and task (CONVENTION.md
sections 2-4; handoffs are core/handoffs.py, the field types core/fields.py).

Every model forbids unknown keys, so a typo is an error that names the nearest valid key.
"""

# No `from __future__ import annotations` here (see core/fields.py).

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from agentfiles.core.cluster import cluster_problem
from agentfiles.core.fields import (
    Amount,
    Count,
    Executor,
    IsolationMode,
    RepoPath,
    RoleNames,
    Strict,
    TaskId,
    as_names,
)
from agentfiles.core.globs import folder_glob, folder_output
from agentfiles.core.paths import exposes_private


class Budget(Strict):
    """Limits of one step; a missing value falls back from task to role to config."""

    context_tokens: Count | None = Field(None, gt=0)
    output_tokens: Count | None = Field(None, gt=0)
    usd: Amount | None = Field(None, gt=0)
    precise: bool | None = None  # count the context's tokens with the API instead of the local estimate

    def over(self, fallback: "Budget | None") -> "Budget":
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

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(0.0, ge=0)
    cache_read: float = Field(0.0, ge=0)


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

    @field_validator("enabled")
    @classmethod
    def _always_commits(cls, value: bool) -> bool:
        if not value:
            raise ValueError("steps always commit: `enabled: false` is not supported (a step's commit is its record)")
        return value

    @field_validator("sign")
    @classmethod
    def _no_signing(cls, value: bool) -> bool:
        if value:
            raise ValueError("signed step commits are not supported: `sign: true` (steps land through git "
                             "fast-import, which cannot sign)")
        return value


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
        """A limit named by an alias of `models:` is its model's (ApiSettings.limit knows only the
        built-in aliases, and a `models:` entry may point one of them at another id)."""
        limits = self.api.limits
        for alias, model_id in self.models.items():
            if alias in limits and model_id not in limits:
                limits[model_id] = limits[alias]
        return self

    @field_validator("cluster")
    @classmethod
    def _cluster_address(cls, value: str | None) -> str | None:
        problem = cluster_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("toolchain")
    @classmethod
    def _toolchain_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.strip() or "\0" in path or "\n" in path:
                raise ValueError(f"toolchain path {path!r} is empty or holds a control character")
            parts = path.replace("\\", "/").split("/")
            if ".git" in parts or ".agents" in parts[:1]:
                raise ValueError(f"toolchain path {path!r} reaches into .git or .agents")
            exposed = exposes_private(path) if path.startswith("/") else None  # relative: run and validate
            if exposed:
                raise ValueError(f"toolchain path {path!r} would show steps {exposed}; list the folder of the tools "
                                 "themselves (a virtual environment, /opt/tool)")
        return value

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

    labels: dict[str, str | list[str]] = Field(default_factory=dict)
    budget: Budget | None = None
    max_turns: Count | None = Field(None, ge=1)
    isolation: IsolationMode | None = None  # Claude Code's own `isolation` key means something else
    network: bool | None = None
    cache: bool | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _label_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ([_scalar_text(v) for v in val] if isinstance(val, list) else _scalar_text(val))
                for k, val in value.items()
            }
        return value


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


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

    def labels(self) -> dict[str, list[str]]:
        return {
            k: (list(v) if isinstance(v, list) else [v]) for k, v in self.agents.labels.items()
        }


# ------------------------------------------------------------------------------------------------ task


class Input(Strict):
    """One entry of a task's `inputs`: a path or glob (optionally as an outline), or a handoff."""

    path: RepoPath | None = None
    view: Literal["full", "outline"] = "full"
    handoff: TaskId | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Input":
        if (self.path is None) == (self.handoff is None):
            raise ValueError("an input is either a path (`path:`) or a handoff (`handoff:`), not both or neither")
        if self.handoff is not None and self.view != "full":
            raise ValueError("`view` applies to path inputs only")
        return self

    @property
    def key(self) -> str:
        return f"handoff:{self.handoff}" if self.handoff else str(self.path)


class Criterion(Strict):
    """One acceptance criterion: prose judged by the verifier, or `run:` a command that must exit 0."""

    text: str | None = None
    run: str | None = None
    timeout: Amount | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> "Criterion":
        if (self.text is None) == (self.run is None):
            raise ValueError("a criterion is either a sentence or `run: <command>`")
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
        """One value where a list is expected is a list of one; a string input is a path; a string
        criterion is prose."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in ("needs", "outputs", "env", "participants", "inputs", "acceptance", "publish_secrets"):
            if isinstance(data.get(key), str):
                data[key] = [data[key]]
        if isinstance(data.get("inputs"), list):  # `src/p*/`: every file under the folders it matches
            data["inputs"] = [{"path": folder_glob(v)} if isinstance(v, str) else
                              {**v, "path": folder_glob(v["path"])} if isinstance(v, dict) and isinstance(v.get("path"), str)
                              else v for v in data["inputs"]]
        if isinstance(data.get("outputs"), list):  # `docs/` is every file under docs/: `docs/**`
            data["outputs"] = [folder_output(v) if isinstance(v, str) else v for v in data["outputs"]]
        if isinstance(data.get("acceptance"), list):
            data["acceptance"] = [{"text": v} if isinstance(v, str) else v for v in data["acceptance"]]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "Task":
        if self.role and self.select:
            raise ValueError("give either `role` or `select`, not both")
        if self.executor == "command" and not self.run:
            raise ValueError("`executor: command` needs `run: <shell command>`")
        if self.run and self.executor not in ("auto", "command"):
            raise ValueError(f"`run` is for command steps; this task has `executor: {self.executor}`")
        if not self.is_command and not (self.role or self.select):
            raise ValueError("missing `role` (or `select` labels, or `run` for a command step)")
        if self.mode == "discussion" and len(self.participants) < 2:
            raise ValueError("`mode: discussion` needs at least two `participants`")
        if self.participants and self.mode != "discussion":
            raise ValueError("`participants` only apply with `mode: discussion`")
        if self.samples > 1 and self.mode == "discussion":
            raise ValueError("`samples` does not apply to `mode: discussion` (each sample would hold the whole "
                             "discussion again)")
        unlisted = [name for name in self.publish_secrets if name not in self.env]
        if unlisted:
            raise ValueError(f"`publish_secrets` names {', '.join(unlisted)}, not listed under `env:` (a step "
                             "can only publish a variable it is given)")
        return self

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
