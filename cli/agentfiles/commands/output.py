"""How commands print: plain text (coloured on a terminal) or one versioned JSON object, and the error lines."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import field
from pathlib import Path
from typing import Any, TextIO

from agentfiles.core.records import record

SCHEMA_VERSION = 1
# Set by the console script (agentfiles/entry.py): this process ends when its command does. A command may
# then leave Python's shutdown nothing to do (no thread, file or exit handler of its own): it puts what it
# made in NOTHING_TO_FINALIZE, and the process ends at once, without freeing those objects one by one or
# collecting them (after a cold `agents status` at 10,000 tasks, that took longer than printing).
ONE_COMMAND: list[bool] = []
NOTHING_TO_FINALIZE: list[object] = []

_COLORS = {
    "done": "32",
    "stale": "33",
    "ready": "36",
    "pending": "2",
    "blocked": "35",
    "failed": "31",
    "rejected": "31",
    "uncertain": "33;1",
    "error": "31;1",
    "warning": "33;1",
    "hint": "2",
    "bold": "1",
    "dim": "2",
}


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") is not None or os.environ.get("TERM") == "dumb":
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


@record
class Options:
    """Global options, shared by every command through typer's context object."""

    directory: Path = field(default_factory=Path.cwd)
    json: bool = False
    color: bool | None = None

    def out(self, local_json: bool = False) -> Output:
        return Output(json_mode=self.json or local_json, color=self.color)


class Output:
    def __init__(self, json_mode: bool = False, color: bool | None = None) -> None:
        self.json_mode = json_mode
        self.stdout_color = _wants_color(sys.stdout) if color is None else color
        self.stderr_color = _wants_color(sys.stderr) if color is None else color

    def paint(self, text: str, style: str, *, stream: TextIO | None = None) -> str:
        use = self.stderr_color if stream is sys.stderr else self.stdout_color
        code = _COLORS.get(style)
        return f"\x1b[{code}m{text}\x1b[0m" if use and code else text

    def line(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")

    def json(self, kind: str, payload: dict[str, Any]) -> None:
        document = {"schema_version": SCHEMA_VERSION, "kind": kind, **payload}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    def note(self, text: str) -> None:
        """Progress and side remarks: stderr, so that stdout stays clean for pipes."""
        sys.stderr.write(text + "\n")

    def diagnostic(self, severity: str, text: str, hint: str | None = None) -> None:
        sys.stderr.write(f"{self.paint(severity + ':', severity, stream=sys.stderr)} {text}\n")
        if hint:
            sys.stderr.write(f"{self.paint('hint:', 'hint', stream=sys.stderr)} {hint}\n")


def plural(count: int, noun: str) -> str:
    """`1 step`, `2 steps`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def print_error(message: str, hint: str | None = None) -> None:
    Output().diagnostic("error", message, hint)
