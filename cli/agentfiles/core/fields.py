"""The field types the convention's documents share: the closed vocabularies (executors, statuses, failure
kinds, isolation modes); the checks of repo paths, task, step and run ids, each normalised as it is read;
and `Strict`, the base of every document: a msgspec Struct that forbids unknown keys.

The Structs are the fast path (core/schema.py): a document they accept is what the pydantic models of
core/explain_*.py accept, with the same values; what they refuse, those models explain."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

import msgspec

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

# Python's `$` also matches before a final newline; pydantic's patterns end at the end of the text only.
Digest = Annotated[str, msgspec.Meta(pattern=r"^sha256:[0-9a-f]{64}\Z")]
CommitSha = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{40}\Z")]
RoleNames = str | list[str] | None  # a role, or a panel of them (docs/convention.md, "Verifier panels")


def not_a_bool(value: object) -> object:
    """A count written as `true` is refused: pydantic reads a bool as the int 1."""
    if isinstance(value, bool):
        raise ValueError(f"a number is expected, not `{str(value).lower()}`")  # noqa: TRY004 - pydantic reports only ValueError
    return value


def as_names(value: str | list[str] | None) -> list[str]:
    """A `verifier:` value (a role, a list of roles, or nothing) as a list of role names."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def names(value: Any) -> Any:
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


def repo_path(value: str) -> str:
    return _checked(value, check_repo_path, normalize_repo_path)


def task_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(
            f"{value!r} is not a valid task id (lowercase letters, digits, '.', '_', '-'; "
            "starting with a letter or digit)"
        )
    return value


def step_id(value: str) -> str:
    if not is_valid_step_id(value):
        raise ValueError(f"{value!r} is not a valid task id (or `task@item` of a foreach task)")
    return value


def run_id(value: str) -> str:
    if not is_valid_run_id(value):
        raise ValueError(f"{value!r} is not a valid run id (letters, digits, '.', '_', '-'; starting with a letter or digit)")
    return value


def input_key(value: str) -> str:
    if value.startswith("handoff:"):
        problem = check_input_key(value)
        if problem:
            raise ValueError(problem)
        return value
    return _checked(value, check_input_key, normalize_repo_path)


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A document or a part of one: unknown keys are refused. `dump` gives it back as JSON-ready data by
    its keys as written (`schema`, not `schema_version`)."""

    _DEFAULTS: ClassVar[dict[type, list[tuple[str, str, Any]]]] = {}

    def dump(self, *, exclude_defaults: bool = False, exclude_none: bool = False,
             exclude: set[str] | dict[str, Any] | None = None) -> dict[str, Any]:
        """As pydantic's `model_dump(mode="json", by_alias=True, ...)` of the same document."""
        out: dict[str, Any] = {}
        for name, key, default in layout(type(self)):
            sub = None
            if exclude is not None and name in exclude:
                sub = exclude[name] if isinstance(exclude, dict) else None
                if not isinstance(sub, (set, dict)):
                    continue
            value = getattr(self, name)
            if (exclude_none and value is None) or (exclude_defaults and value == default):
                continue
            out[key] = value if type(value) in _SCALARS else _plain(value, exclude_defaults, exclude_none, sub)
        return out

    def replace(self, **changes: Any) -> Any:
        """A copy with `changes`, not checked again (as pydantic's `model_copy(update=...)`)."""
        new = copy.copy(self)
        if hasattr(self, "__dict__"):  # what a document gave (Task.fields_set)
            new.__dict__.update(self.__dict__)
        for name, value in changes.items():
            setattr(new, name, value)
        return new


REQUIRED = object()  # the default of a field that has none: equal to no value
_SCALARS = frozenset((str, int, float, bool, type(None)))


def layout(cls: type) -> list[tuple[str, str, Any]]:
    """(attribute, key, default) of each field of `cls`; a default made by a factory is made once, to compare."""
    known = Strict._DEFAULTS.get(cls)
    if known is None:
        known = []
        for info in msgspec.structs.fields(cls):
            if info.default is not msgspec.NODEFAULT:
                default = info.default
            elif info.default_factory is not msgspec.NODEFAULT:
                default = info.default_factory()
            else:
                default = REQUIRED
            known.append((info.name, info.encode_name, default))
        Strict._DEFAULTS[cls] = known
    return known


def _plain(value: Any, exclude_defaults: bool, exclude_none: bool, exclude: Any) -> Any:
    if type(value) in _SCALARS or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Strict):
        return value.dump(exclude_defaults=exclude_defaults, exclude_none=exclude_none, exclude=exclude)
    if isinstance(value, list):
        return [v if type(v) in _SCALARS else _plain(v, exclude_defaults, exclude_none, None) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: v if type(v) in _SCALARS else _plain(v, exclude_defaults, exclude_none, None)
                for k, v in value.items()}
    # Anything else YAML can hold (a date, bytes, a set) in a key that takes any value (a role's `hooks`):
    # as pydantic writes it in JSON mode. Rare, so its serialiser is imported only then.
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)
