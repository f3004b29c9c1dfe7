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


def shared_inputs(project: Project, task_id: str, foreach_item: bool) -> set[str]:
    """The input files of a task that other steps of its role read too: the literal path inputs another
    task with the same role declares, and, for an item of a foreach task, the inputs every item reads.
    The context puts them first, so that consecutive steps of the role share that prefix in the cache."""
    from agentfiles.core.fingerprint import expand_path_input

    task = project.tasks[task_id].model
    if task.role is None:
        return set()
    found: set[str] = set()
    for other_id, entry in project.tasks.items():
        other = entry.model
        if other_id != task_id and other.role == task.role:
            found.update(
                s.path for s in other.inputs if s.path and "{item}" not in s.path and not has_glob(s.path)
            )
    if foreach_item:
        for spec in task.inputs:
            if spec.path and "{item}" not in spec.path:
                found.update(expand_path_input(project.layout.root, spec.path))
    return found
