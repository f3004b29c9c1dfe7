"""Prompt caching as the Messages API applies it, seen from a request before it is sent: where each cache
breakpoint falls, how long a prefix it closes, and whether the model caches a prefix that short.

The API caches the prompt (tools, then system, then messages) up to a block marked `cache_control`,
only when that prefix reaches the model's minimum cacheable length; below it the request costs the full
input price and nothing says so. `agents run --dry-run` says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentfiles.core.paths import has_glob

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agentfiles.core.models import Task
    from agentfiles.core.project import Project

# Minimum cacheable prompt length in tokens, from Anthropic's prompt caching documentation; the first
# model id fragment that matches wins, the other Sonnet and Opus models cache from 1,024 tokens.
MINIMUM_TOKENS: tuple[tuple[str, int], ...] = (
    ("opus-4-6", 4096),
    ("opus-4-5", 4096),
    ("haiku-4-5", 4096),
    ("haiku", 2048),
)
DEFAULT_MINIMUM = 1024
CHARS_PER_TOKEN = 4  # a typical count, not the budget's conservative bound: this says what is likely


def minimum_tokens(model: str) -> int:
    return next((n for fragment, n in MINIMUM_TOKENS if fragment in model), DEFAULT_MINIMUM)


@dataclass(frozen=True)
class Breakpoint:
    where: str  # "the tools", "system block 2", "message 1, block 3"
    tokens: int  # about how many tokens the prefix it closes holds


def breakpoints(request: dict[str, Any]) -> list[Breakpoint]:
    """Each cache breakpoint of a request, with the size of the prefix it closes."""
    found: list[Breakpoint] = []
    chars = 0

    def visit(where: str, block: Any) -> None:
        nonlocal chars
        shown = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        chars += len(json.dumps(shown, separators=(",", ":"), ensure_ascii=False))
        if isinstance(block, dict) and block.get("cache_control"):
            found.append(Breakpoint(where, math.ceil(chars / CHARS_PER_TOKEN)))

    for tool in request.get("tools") or []:
        visit("the tools", tool)
    system = request.get("system") or []
    for number, block in enumerate([{"text": system}] if isinstance(system, str) else system, 1):
        visit(f"system block {number}", block)
    for m, message in enumerate(request.get("messages") or [], 1):
        content = message.get("content")
        for number, block in enumerate([{"text": content}] if isinstance(content, str) else content or [], 1):
            visit(f"message {m}, block {number}", block)
    return found


def cache_notes(request: dict[str, Any]) -> list[str]:
    """A sentence for each breakpoint whose prefix is below the model's minimum: it caches nothing."""
    model = str(request.get("model") or "")
    least = minimum_tokens(model)
    return [
        f"the cache breakpoint at {point.where} closes a prefix of about {point.tokens:,} tokens; {model} caches "
        f"prefixes of {least:,} tokens or more, so it caches nothing (each step pays the full input price)"
        for point in breakpoints(request)
        if point.tokens < least
    ]


def shared_inputs(project: Project, task_id: str, foreach_item: bool, files: Iterable[str]) -> set[str]:
    """Which of a step's input `files` other steps of its role read too: a literal path input another task
    with the same role declares, and, for an item of a foreach task, an input every item reads. The context
    puts them first, so that consecutive steps of the role share that prefix in the cache. The role's
    inputs are counted once per project (`_role_inputs`), not by reading every task for every step."""
    from agentfiles.core.fingerprint import expand_path_input

    task = project.tasks[task_id].model
    if task.role is None:
        return set()
    declared = _role_inputs(project).get(task.role, {})
    own = _literal_inputs(task)
    found = {f for f in files if declared.get(f, 0) > (f in own)}  # declared by a task other than this one
    if foreach_item:
        every = set()
        for spec in task.inputs:
            if spec.path and "{item}" not in spec.path:
                every.update(expand_path_input(project.layout.root, spec.path))
        found.update(f for f in files if f in every)
    return found


def _literal_inputs(task: Task) -> set[str]:
    """The path inputs of a task that name one file for every step of it: no glob, no `{item}`."""
    return {s.path for s in task.inputs if s.path and "{item}" not in s.path and not has_glob(s.path)}


def _role_inputs(project: Project) -> dict[str, dict[str, int]]:
    """Per role, each literal path input of its tasks and how many of them declare it; kept on the project
    while its tasks are the same."""
    kept = project.__dict__.get("_role_inputs")
    if kept is not None and kept[0] is project.tasks and kept[1] == len(project.tasks):
        return kept[2]
    counts: dict[str, dict[str, int]] = {}
    for entry in project.tasks.values():
        role = entry.model.role
        if role is not None:
            mine = counts.setdefault(role, {})
            for path in _literal_inputs(entry.model):
                mine[path] = mine.get(path, 0) + 1
    project.__dict__["_role_inputs"] = (project.tasks, len(project.tasks), counts)
    return counts
