"""`agents status`: the derived state of every task, with the reasons."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import List, Optional

import typer

from agentfiles.commands.output import Options


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
    import gc

    from agentfiles.commands.output import NOTHING_TO_FINALIZE, ONE_COMMAND

    # A cold status makes about a million small objects and no garbage in cycles: a collection while they
    # live would scan them all (0.1 s and more at 10,000 tasks) and free nothing.
    if ONE_COMMAND:  # the process ends with this command: what it made is neither collected nor freed
        gc.disable()
        code, made = _status(ctx, tasks, json_output)
        NOTHING_TO_FINALIZE[:] = [made]
        return code
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _status(ctx, tasks, json_output)[0]
    finally:  # once what it made is freed (when `_status` returns), the collector is back on, as it was
        if enabled:
            gc.enable()


def _status(ctx: typer.Context, tasks: list[str] | None, json_output: bool) -> tuple[int, object]:
    """The exit code, and what was made (left for the process's end: see NOTHING_TO_FINALIZE)."""
    from collections import Counter

    from agentfiles.core.state import STATES
    from agentfiles.runner.preflight import with_context_budgets
    from agentfiles.storage.workspace import open_workspace

    opts: Options = ctx.obj
    out = opts.out(json_output)
    workspace = open_workspace(opts.directory)
    states = with_context_budgets(workspace, workspace.states())
    wanted = list(tasks or [])
    unknown = [t for t in wanted if t not in states]
    if unknown:
        from agentfiles.core.typos import unknown_task

        raise unknown_task(unknown, states)
    order = wanted or list(states)
    rows = [states[t] for t in order]
    tally = Counter(r.state for r in rows)
    counts = {s: tally[s] for s in STATES if tally[s]}
    if out.json_mode:
        out.json("status", {"tasks": [r.to_json() for r in rows], "counts": counts})
        return 0, (workspace, states)
    if not rows:
        out.line("No tasks yet: add one with `agents new task ID`.")
        return 0, None
    width = max(len(r.id) for r in rows)
    paint = out.paint
    lines = [f"{paint(f'{r.state:<8}', r.state)} {r.id:<{width}}  {'; '.join(r.reasons)}".rstrip() for r in rows]
    noun = "task" if len(rows) == 1 else "tasks"
    lines += ["", f"{len(rows)} {noun}: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    out.line("\n".join(lines))  # one write: a terminal (or PYTHONUNBUFFERED) would otherwise take one a line
    return 0, (workspace, states, lines)


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)
