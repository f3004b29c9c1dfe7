"""The rules of the convention's documents beyond their types, as functions that both paths run: the
fast Structs (core/models.py) and the pydantic models that explain a refusal (core/explain_models.py).
Each raises ValueError with the words the user sees; each `*_data` does what a before-validator does."""

from __future__ import annotations

from typing import Any

from agentfiles.core.cluster import cluster_problem
from agentfiles.core.globs import folder_glob, folder_output
from agentfiles.core.paths import exposes_private


def always_commits(value: bool) -> bool:
    if not value:
        raise ValueError("steps always commit: `enabled: false` is not supported (a step's commit is its record)")
    return value


def no_signing(value: bool) -> bool:
    if value:
        raise ValueError("signed step commits are not supported: `sign: true` (steps land through git "
                         "fast-import, which cannot sign)")
    return value


def cluster_address(value: str | None) -> str | None:
    problem = cluster_problem(value) if value is not None else None
    if problem:
        raise ValueError(problem)
    return value


def toolchain_paths(value: list[str]) -> list[str]:
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


def limits_by_alias(config: Any) -> None:
    """A limit named by an alias of `models:` is its model's (ApiSettings.limit knows only the built-in
    aliases, and a `models:` entry may point one of them at another id)."""
    limits = config.api.limits
    for alias, model_id in config.models.items():
        if alias in limits and model_id not in limits:
            limits[model_id] = limits[alias]


def label_values_as_text(value: Any) -> Any:
    """Label values written as numbers or booleans are their text (`level: 2` is `level: "2"`)."""
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


def role_data(data: dict[str, Any]) -> dict[str, Any]:
    """What pydantic's before-validators of a role do: `agents:` with nothing is `{}`, labels are text."""
    agents = data.get("agents", {})
    if agents is None:
        return {**data, "agents": {}}
    if isinstance(agents, dict) and isinstance(agents.get("labels"), dict):
        return {**data, "agents": {**agents, "labels": label_values_as_text(agents["labels"])}}
    return data


def one_input_kind(spec: Any) -> None:
    if (spec.path is None) == (spec.handoff is None):
        raise ValueError("an input is either a path (`path:`) or a handoff (`handoff:`), not both or neither")
    if spec.handoff is not None and spec.view != "full":
        raise ValueError("`view` applies to path inputs only")


def one_criterion_kind(criterion: Any) -> None:
    if (criterion.text is None) == (criterion.run is None):
        raise ValueError("a criterion is either a sentence or `run: <command>`")


def task_data(data: Any) -> Any:
    """What pydantic's before-validator of a task does: one value where a list is expected is a list of
    one; a string input is a path; a string criterion is prose; folders are the globs they mean."""
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


def task_consistent(task: Any) -> None:
    """The rules between a task's keys (either path's task: the same attributes)."""
    if task.role and task.select:
        raise ValueError("give either `role` or `select`, not both")
    if task.executor == "command" and not task.run:
        raise ValueError("`executor: command` needs `run: <shell command>`")
    if task.run and task.executor not in ("auto", "command"):
        raise ValueError(f"`run` is for command steps; this task has `executor: {task.executor}`")
    is_command = task.executor == "command" or (task.executor == "auto" and bool(task.run))
    if not is_command and not (task.role or task.select):
        raise ValueError("missing `role` (or `select` labels, or `run` for a command step)")
    if task.mode == "discussion" and len(task.participants) < 2:
        raise ValueError("`mode: discussion` needs at least two `participants`")
    if task.participants and task.mode != "discussion":
        raise ValueError("`participants` only apply with `mode: discussion`")
    if task.samples > 1 and task.mode == "discussion":
        raise ValueError("`samples` does not apply to `mode: discussion` (each sample would hold the whole "
                         "discussion again)")
    unlisted = [name for name in task.publish_secrets if name not in task.env]
    if unlisted:
        raise ValueError(f"`publish_secrets` names {', '.join(unlisted)}, not listed under `env:` (a step "
                         "can only publish a variable it is given)")
