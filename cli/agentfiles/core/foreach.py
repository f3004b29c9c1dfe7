"""`foreach: <glob>`: one task, one clean step per matching file. Each item is a step of its own, with the
id `<task>@<slug>`, its own handoff, and `{item}` (the path), `{name}` (its file name) and `{stem}` (the
name without extension) substituted in its title, inputs, outputs, command, checks and intent (in the
command and checks as shell-quoted words: do not quote them yourself). The task itself stands for the family: done when every item is done."""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from agentfiles.core.fingerprint import expand_path_input

if TYPE_CHECKING:
    from agentfiles.core.models import Task

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def items_of(root: Path, pattern: str) -> list[str]:
    return expand_path_input(root, pattern)


def item_slug(item: str) -> str:
    """A file-name-safe form of an item's path: `docs/a.md` -> `docs--a.md`."""
    return _UNSAFE.sub("_", item.replace("/", "--"))


def step_id(task_id: str, item: str) -> str:
    return f"{task_id}@{item_slug(item)}"


def family_of(step: str) -> str:
    """The task of a step id (`summarise@docs--a.md` -> `summarise`)."""
    return step.split("@", 1)[0]


def substitute(text: str, item: str, *, shell: bool = False) -> str:
    """Fill in `{item}`, `{name}` and `{stem}`; in a shell command (`shell`) each value is quoted, so a
    file name with spaces or `$(...)` is one word, never code."""
    name = item.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    values = {"{item}": item, "{name}": name, "{stem}": stem}
    for key, value in values.items():
        text = text.replace(key, shlex.quote(value) if shell else value)
    return text


def item_task(task: Task, item: str) -> Task:
    """The task as one of its items runs it: placeholders filled in, no `foreach`."""
    inputs = [
        spec.model_copy(update={"path": substitute(spec.path, item)}) if spec.path else spec for spec in task.inputs
    ]
    acceptance = [
        c.model_copy(update={
            k: substitute(v, item, shell=k == "run") for k, v in (("text", c.text), ("run", c.run)) if v is not None
        })
        for c in task.acceptance
    ]
    return task.model_copy(
        update={
            "foreach": None,
            "inputs": inputs,
            "outputs": [substitute(o, item) for o in task.outputs],
            "title": substitute(task.title, item),
            "run": substitute(task.run, item, shell=True) if task.run else None,
            "acceptance": acceptance,
        }
    )


def family_run(item_runs: list[str]) -> str:
    """A stand-in run id for a foreach family: changes whenever any item runs again."""
    digest = hashlib.sha256("\n".join(sorted(item_runs)).encode()).hexdigest()[:12]
    return f"family-{digest}"
