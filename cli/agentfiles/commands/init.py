"""`agents init`: scaffold the convention in a git repository."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

import typer

from agentfiles.commands.output import Options


def init_command(
    ctx: typer.Context,
    git: bool = typer.Option(False, "--git", help="Run `git init` first when not inside a repository."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Create the agents layout: config, starter roles, an example task, CLAUDE.md's managed block.

    Safe to run again: existing files are left alone, and CLAUDE.md keeps every byte outside its block.
    """
    from agentfiles.storage.scaffold import init_project

    opts: Options = ctx.obj
    out = opts.out(json_output)
    result = init_project(opts.directory, git=git)
    if out.json_mode:
        out.json("init", result.to_json())
        return 0
    if result.git_initialised:
        out.line(f"Initialised an empty git repository in {result.root}")
    for note in result.notes:
        out.note(f"note: {note}")
    if not result.created and not result.updated:
        out.line(f"Nothing to do: the agents layout is complete in {result.root}")
        return 0
    out.line(f"agents layout in {result.root}")
    for rel in result.created:
        out.line(f"  {out.paint('created', 'done')}  {rel}")
    for rel in result.updated:
        out.line(f"  {out.paint('updated', 'stale')}  {rel} (managed block)")
    out.line("")
    out.line("Next: read .agents/tasks/describe-project.md, commit the files, then run `agents status`.")
    return 0


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)
