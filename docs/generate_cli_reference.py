"""Prints docs/cli.md: the `--help` of every `agents` command, from the source in cli/ next to this file.

Run by the project's own pipeline step `.agents/tasks/cli-reference.md`; a test checks the committed
docs/cli.md is what this prints.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))
os.environ["COLUMNS"] = "100"
os.environ["NO_COLOR"] = "1"

from agentfiles.commands.app import app, run  # noqa: E402
from typer.main import get_command  # noqa: E402


def help_of(path: list[str]) -> str:
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        run([*path, "--help"])
    return buffer.getvalue().rstrip()


def commands(group, prefix: list[str]):  # type: ignore[no-untyped-def]
    for name in sorted(getattr(group, "commands", {})):
        command = group.commands[name]
        yield [*prefix, name]
        yield from commands(command, [*prefix, name])


def main() -> None:
    root = get_command(app)
    out = [
        "# CLI reference",
        "",
        "Generated from `agents --help` by `docs/generate_cli_reference.py` (the project's own",
        "pipeline step `cli-reference`); do not edit by hand.",
        "",
        "## agents",
        "",
        "```",
        help_of([]),
        "```",
    ]
    for path in commands(root, []):
        out += ["", f"## agents {' '.join(path)}", "", "```", help_of(path), "```"]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
