"""A name typed that matches nothing known: the closest known name, and the one error every verb that
takes task ids gives for an unknown one. Light on imports: `status` and `run` reach it on their fast path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from agentfiles.errors import UsageError


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_task(names: Iterable[str], known: Iterable[str]) -> UsageError:
    """`unknown task: fruit-reprot (did you mean fruit-report?)`, for each name not among `known`."""
    choices = sorted(set(known))
    shown = []
    for name in names:
        guess = did_you_mean(name, choices)
        shown.append(f"{name} (did you mean {guess}?)" if guess else name)
    noun = "task" if len(shown) == 1 else "tasks"
    return UsageError(f"unknown {noun}: {', '.join(shown)}", hint="`agents status` lists the tasks")
