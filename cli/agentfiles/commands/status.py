"""`agents status`: the derived state of every task, with the reasons."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import List, Optional

import typer


def status_command(
    ctx: typer.Context,
    tasks: Optional[List[str]] = typer.Argument(None, metavar="[TASK]...", help="Only these tasks."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Show each task's state: done, stale (with what changed), ready, pending, blocked, failed, rejected,
    invalid (its file, handoff or role cannot be loaded: the file and line say why).

    A step that cannot start as declared is blocked, with why: a need not done, a declared input missing,
    or a model step's context over its budget (the figures; `agents run --dry-run TASK` shows it whole).

    A task is done while its handoff says so and every recorded hash (definition, inputs, outputs) still
    matches and every task it needs is done and is the run it saw. One broken file does not hide the rest.
    """
    from agentfiles.commands.status_report import show_status

    return show_status(ctx.obj, tasks, json_output)


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)
