"""The field types the convention's models share: repo paths, task, step and run ids and digests, each
checked and normalised as it is read; the closed vocabularies (executors, statuses, failure kinds,
isolation modes); and `Strict`, the base that forbids unknown keys."""

# No `from __future__ import annotations` here: pydantic would evaluate every string annotation when
# the classes are built, which triples the import time of this module (it is on every command's path).

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from agentfiles.core.paths import (
    PLAIN_PATH,
    check_input_key,
    check_repo_path,
    is_valid_id,
    is_valid_run_id,
    is_valid_step_id,
    normalize_repo_path,
)

Executor = Literal["auto", "agent", "command", "claude-code"]
HandoffStatus = Literal["done", "failed", "rejected", "uncertain"]
FailureKind = Literal[
    "crash", "hang", "invalid_output", "missing_input", "check_failed", "rejected", "budget", "api", "interrupted",
    "sandbox_escape", "secret_leak", "uncertain",
]
IsolationMode = Literal["auto", "os", "folder"]  # how a step's processes are confined (docs/convention.md)


def _not_a_bool(value: object) -> object:
    """A count written as `true` is refused: pydantic reads a bool as the int 1."""
    if isinstance(value, bool):
        raise ValueError(f"a number is expected, not `{str(value).lower()}`")  # noqa: TRY004 - pydantic reports only ValueError
    return value


Count = Annotated[int, BeforeValidator(_not_a_bool)]  # a number of things (calls, tokens), never true or false
Amount = Annotated[float, BeforeValidator(_not_a_bool)]  # seconds, dollars: never true or false either


def as_names(value: str | list[str] | None) -> list[str]:
    """A `verifier:` value (a role, a list of roles, or nothing) as a list of role names."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _names(value: Any) -> Any:
    """A `verifier:` value is a role name or a list of them: one message in words, not one per member of
    the union (`verifier.str: ...`, `verifier['list[str]'][1]: ...`)."""
    if value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    if isinstance(value, list):
        wrong = next(n for n, name in enumerate(value, 1) if not isinstance(name, str))
        raise ValueError(f"a role name, or a list of role names; item {wrong} is not a name (got {_shown(value[wrong - 1])})")
    raise ValueError(f"a role name, or a list of role names (got {_shown(value)})")


def _shown(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else repr(value)


RoleNames = Annotated[str | list[str] | None, BeforeValidator(_names)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False, defer_build=True)


# A path is checked once per process: at 10,000 tasks the same paths recur as outputs, as inputs of the
# next step and as keys of handoffs (a cold `agents status` checked each two or three times).
_CHECKED: dict[str, str] = {}


def _checked(value: str, check: Callable[[str], str | None], normal: Callable[[str], str]) -> str:
    known = _CHECKED.get(value)
    if known is not None:
        return known
    if PLAIN_PATH.fullmatch(value):
        return value
    problem = check(value)
    if problem:
        raise ValueError(problem)
    result = normal(value)
    if len(_CHECKED) < 200_000:
        _CHECKED[value] = result
    return result


def _repo_path(value: str) -> str:
    return _checked(value, check_repo_path, normalize_repo_path)


def _task_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(
            f"{value!r} is not a valid task id (lowercase letters, digits, '.', '_', '-'; "
            "starting with a letter or digit)"
        )
    return value


def _step_id(value: str) -> str:
    if not is_valid_step_id(value):
        raise ValueError(f"{value!r} is not a valid task id (or `task@item` of a foreach task)")
    return value


def _run_id(value: str) -> str:
    if not is_valid_run_id(value):
        raise ValueError(f"{value!r} is not a valid run id (letters, digits, '.', '_', '-'; starting with a letter or digit)")
    return value


def _input_key(value: str) -> str:
    if value.startswith("handoff:"):
        problem = check_input_key(value)
        if problem:
            raise ValueError(problem)
        return value
    return _checked(value, check_input_key, normalize_repo_path)


RepoPath = Annotated[str, AfterValidator(_repo_path)]
TaskId = Annotated[str, AfterValidator(_task_id)]
StepId = Annotated[str, AfterValidator(_step_id)]
RunId = Annotated[str, AfterValidator(_run_id)]
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
InputKey = Annotated[str, AfterValidator(_input_key)]
