"""`agents roles`: the role registry, from .agents/roles/ and .claude/agents/."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

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
    workspace.require_usable()
    project = workspace.project
    role_dirs = (".agents/roles/", ".claude/agents/")
    # A role file that cannot be read is left out and said so; the others are listed.
    skipped = [d for d in project.diagnostics if (d.file or "").startswith(role_dirs)]
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
        out.json("roles", {"roles": rows, "problems": [d.to_json() for d in skipped]})
        return 0
    for diag in skipped:
        out.diagnostic("warning", f"{diag.where}{diag.message}", diag.hint)
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
