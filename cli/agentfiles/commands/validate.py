"""`agents validate`: every problem of the project's files at once."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

import typer

from agentfiles.commands.output import Options
from agentfiles.errors import EXIT_USAGE


def validate_command(
    ctx: typer.Context,
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Check tasks, roles, config and handoffs: schema, references, cycles, outputs and paths.

    Exits 2 when there is an error (or, with --strict, a warning).
    """
    from agentfiles.storage.workspace import open_workspace

    opts: Options = ctx.obj
    out = opts.out(json_output)
    workspace = open_workspace(opts.directory)
    found = workspace.validate()
    errors = [d for d in found if d.severity == "error"]
    warnings = [d for d in found if d.severity == "warning"]
    failed = bool(errors) or (strict and bool(warnings))
    project = workspace.project
    # roles: those that loaded; one left out (a Claude Code subagent it could not read) or broken is named apart
    left_out = sorted(set(project.broken_roles) - set(project.roles))
    counts = {
        "tasks": len(project.tasks) + len(project.broken_tasks),
        "roles": len(project.roles),
        "handoffs": len(project.handoffs),
    }
    if out.json_mode:
        out.json(
            "validate",
            {
                "ok": not failed,
                "errors": [d.to_json() for d in errors],
                "warnings": [d.to_json() for d in warnings],
                "counts": {**counts, "roles_left_out": left_out},
            },
        )
        return EXIT_USAGE if failed else 0
    for diag in found:
        out.diagnostic(diag.severity, f"{diag.where}{diag.message}", diag.hint)
    shown = {kind: f"{n} {kind[:-1] if n == 1 else kind}" for kind, n in counts.items()}
    if left_out:
        shown["roles"] += f" ({len(left_out)} left out: {', '.join(left_out)})"
    summary = ", ".join(shown.values())
    if failed:
        out.note(f"invalid: {len(errors)} error(s), {len(warnings)} warning(s) in {summary}")
        return EXIT_USAGE
    tail = f", {len(warnings)} warning(s)" if warnings else ""
    out.line(f"ok: {summary}{tail}")
    return 0


def register(app: typer.Typer) -> None:
    app.command("validate")(validate_command)
