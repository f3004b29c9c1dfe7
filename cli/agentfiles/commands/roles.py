"""`agents roles`: the role registry, from .agents/roles/ and .claude/agents/."""

from __future__ import annotations

import typer

from agentfiles.commands.output import Options


def roles_command(
    ctx: typer.Context,
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """List the roles tasks can name or select by label (.agents/roles/ wins over .claude/agents/)."""
    from agentfiles.storage.workspace import open_workspace

    opts: Options = ctx.obj
    out = opts.out(json_output)
    workspace = open_workspace(opts.directory)
    project = workspace.project
    rows = []
    for name in sorted(project.roles):
        entry = project.roles[name]
        role = entry.model
        rows.append(
            {
                "name": name,
                "description": role.description,
                "model": role.model or "inherit",
                "model_id": project.config.resolve_model(role.model),
                "labels": role.labels(),
                "source": entry.path,
                "origin": entry.origin,
            }
        )
    if out.json_mode:
        out.json("roles", {"roles": rows, "problems": [d.to_json() for d in project.errors]})
        return 0
    for diag in project.errors:
        out.diagnostic(diag.severity, f"{diag.where}{diag.message}", diag.hint)
    if not rows:
        out.line("No roles yet: run `agents init`, or add one with `agents new role NAME`.")
        return 0
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        labels = ", ".join(f"{k}={'|'.join(v)}" for k, v in row["labels"].items())
        out.line(f"{out.paint(row['name'].ljust(width), 'bold')}  {row['model']:<8} {row['description']}")
        detail = f"{row['source']}" + (f"  labels: {labels}" if labels else "")
        out.line(" " * (width + 2) + out.paint(detail, "dim"))
    return 0


def register(app: typer.Typer) -> None:
    app.command("roles")(roles_command)
