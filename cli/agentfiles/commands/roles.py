"""`agents roles`: the role registry, from .agents/roles/ and .claude/agents/."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

import typer

from agentfiles.commands.output import Options
from agentfiles.errors import ConventionError


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
    role_dirs = (".agents/roles/", ".claude/agents/")
    broken = [d for d in project.errors if (d.file or "").startswith(role_dirs)]
    if broken:
        raise ConventionError(
            f"{len(broken)} problem(s) in role files", diagnostics=broken, hint="fix them; `agents validate` lists every problem"
        )
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
        out.json("roles", {"roles": rows})
        return 0
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
