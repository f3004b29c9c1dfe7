"""What `agents status` prints, without typer: the CLI's command (commands/status.py) and the console script's
own path for a bare `agents status` (commands/cli.py), which skips building the CLI (typer's import and its 17
commands' signatures: about a quarter of a warm status at 10,000 tasks) both call `show_status`."""

from __future__ import annotations

import gc

from agentfiles.commands.output import Options


def run_status(args: list[str]) -> int:
    """`agents status` with no option or argument, as the CLI would run it: its exit code, every error as
    the CLI reports it (commands/outcome.py, and typer's own answers to an interrupt or a closed pipe)."""
    from agentfiles.commands.outcome import as_typer, guarded

    return guarded(lambda: as_typer(lambda: show_status(Options(), None, False)), args)


def show_status(opts: Options, tasks: list[str] | None, json_output: bool) -> int:
    from agentfiles.commands.output import NOTHING_TO_FINALIZE, ONE_COMMAND

    # A cold status makes about a million small objects and no garbage in cycles: a collection while they
    # live would scan them all (0.1 s and more at 10,000 tasks) and free nothing.
    if ONE_COMMAND:  # the process ends with this command: what it made is neither collected nor freed
        gc.disable()
        code, made = _status(opts, tasks, json_output)
        NOTHING_TO_FINALIZE[:] = [made]
        return code
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _status(opts, tasks, json_output)[0]
    finally:  # once what it made is freed (when `_status` returns), the collector is back on, as it was
        if enabled:
            gc.enable()


def _status(opts: Options, tasks: list[str] | None, json_output: bool) -> tuple[int, object]:
    """The exit code, and what was made (left for the process's end: see NOTHING_TO_FINALIZE)."""
    from collections import Counter

    from agentfiles.commands.output import ONE_COMMAND
    from agentfiles.core.state import STATES
    from agentfiles.runner.preflight import with_context_budgets
    from agentfiles.storage.workspace import open_workspace

    out = opts.out(json_output)
    workspace = open_workspace(opts.directory)
    workspace.write_later = bool(ONE_COMMAND)  # this process ends once it has printed
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
    painted = {state: out.paint(f"{state:<8}", state) for state in tally}
    lines = [f"{painted[r.state]} {r.id:<{width}}  {'; '.join(r.reasons)}".rstrip() for r in rows]
    noun = "task" if len(rows) == 1 else "tasks"
    lines += ["", f"{len(rows)} {noun}: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    out.line("\n".join(lines))  # one write: a terminal (or PYTHONUNBUFFERED) would otherwise take one a line
    return 0, (workspace, states, lines)

