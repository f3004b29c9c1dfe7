"""`agents report`: the pipeline and its history as a static HTML site, to open or to publish."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from pathlib import Path
from typing import Optional

import typer

from agentfiles.commands.output import Options, plural


def report_command(
    ctx: typer.Context,
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", metavar="DIR", help="The folder to write (default: .agents/report in the repository)."
    ),
    open_: bool = typer.Option(False, "--open", help="Open the report in the default browser afterwards."),
    force: bool = typer.Option(False, "--force", help="Write it again even if nothing changed since the last time."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Write a self-contained HTML report: the task graph, every step with its verdict, cost, diff,
    handoff and (collapsed) exactly what it saw, the history and the steps awaiting review. Static
    files that fetch nothing: open index.html, or publish the folder as a CI artifact. A report of an
    unchanged history and working tree is not written again."""
    from agentfiles.report.site import DEFAULT_OUT, build_report

    opts: Options = ctx.obj
    output = opts.out(json_output)
    target = None if out is None else (out if out.is_absolute() else opts.directory / out)
    result = build_report(opts.directory, target, force=force)
    if result.exposed is not None:
        hint = (f"add `report/` to .agents/.gitignore (a project initialised before `agents report` existed lacks it)"
                if result.exposed == DEFAULT_OUT else
                f"add `{result.exposed}/` to .gitignore, or leave out --out to write {DEFAULT_OUT}/, which git ignores")
        output.diagnostic("warning", f"{result.exposed}/ is inside the repository and not ignored by git: "
                          "`git add -A` would commit the whole report", hint)
    if output.json_mode:
        output.json("report", result.to_json())
    elif result.rebuilt:
        counts = f"{plural(result.tasks, 'task')}, {plural(result.runs, 'run')}"
        output.line(f"wrote {result.pages} pages ({counts}) in {result.seconds:.2f} s: {result.index}")
    else:
        output.line(f"up to date (nothing changed since it was written): {result.index}")
    if open_:
        import webbrowser

        if not webbrowser.open(result.index.as_uri()):
            output.diagnostic("warning", "no browser could be started", f"open {result.index} yourself")
    return 0


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
