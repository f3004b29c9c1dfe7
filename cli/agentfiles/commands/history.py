"""`agents show TASK` and `agents log [TASK]`: what a step saw, did and left, read back from its handoff,
its run record and its commit."""

from __future__ import annotations

from typing import Optional

import typer

from agentfiles.commands.output import Options
from agentfiles.errors import UsageError


def show_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task to show."),
    run: Optional[str] = typer.Option(None, "--run", help="An earlier run by its id (default: the latest)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Print a task's handoff and the record of its run: inputs and outputs with their hashes, the
    command, its exit code, the environment's names, checks, and the tail of its output."""
    from agentfiles.storage.inspect import load_step

    opts: Options = ctx.obj
    out = opts.out(json_output)
    step = load_step(opts.directory, task, run)
    if out.json_mode:
        out.json("show", step.to_json())
        return 0
    meta, record = step.meta, step.record or {}
    status = meta.get("status", "?")
    out.line(f"{out.paint(task, 'bold')}  {out.paint(status, status if status in ('done', 'failed', 'rejected') else 'dim')}  run {meta.get('run')}")
    facts = [f"executor {meta.get('executor', '?')}"]
    if meta.get("role"):
        facts.append(f"role {meta['role']}")
    if meta.get("model"):
        facts.append(f"model {meta['model']}")
    usage = meta.get("usage") or {}
    if usage.get("duration_s") is not None:
        facts.append(f"{usage['duration_s']} s")
    if meta.get("finished"):
        facts.append(f"finished {meta['finished']}")
    if step.commit:
        facts.append(f"commit {step.commit[:10]}")
    out.line("  " + "   ".join(facts))
    if meta.get("failure"):
        failure = meta["failure"]
        out.line(f"  {out.paint('failure', 'failed')} {failure.get('kind')}: {failure.get('detail')}")
    for title, values in (("inputs", meta.get("inputs") or {}), ("outputs", meta.get("outputs") or {})):
        if values:
            out.line(f"{title}:")
            for path, digest in values.items():
                out.line(f"  {path}  {out.paint(str(digest)[:19], 'dim')}")
    out.line("")
    out.line(step.body.rstrip())
    if record:
        out.line("")
        out.line(out.paint(f"run record .agents/runs/{meta.get('run')}/", "bold"))
        if record.get("command") is not None:
            out.line(f"  command: {record['command']}")
            out.line(f"  exit code: {record.get('exit_code')}")
        names = record.get("env") or []
        if names:
            own = [n for n in names if n.startswith("AGENTS_")]
            others = len(names) - len(own)
            out.line(f"  environment: {', '.join(own)}" + (f" and {others} inherited (names in record.json)" if others else ""))
        if record.get("env_withheld"):
            out.line(f"  withheld: {', '.join(record['env_withheld'])}")
        for check in record.get("checks") or []:
            verdict = "passed" if check.get("ok") else "FAILED"
            out.line(f"  check `{check.get('run')}`: {verdict}")
        for name in ("stdout", "stderr"):
            text = step.streams.get(name, "")
            if text.strip():
                lines = text.rstrip().splitlines()[-20:]
                out.line(f"  {name} (last {len(lines)} lines):")
                for line in lines:
                    out.line(f"    {line}")
    return 0


def log_command(
    ctx: typer.Context,
    task: Optional[str] = typer.Argument(None, metavar="[TASK]", help="Only this task's steps."),
    limit: Optional[int] = typer.Option(None, "--max-count", "-n", min=1, help="At most this many steps."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """List step commits, newest first, from their Agents-* trailers."""
    from agentfiles.core.paths import find_project_root, is_valid_id
    from agentfiles.storage.git import step_commits

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if task is not None and not is_valid_id(task):
        raise UsageError(f"'{task}' is not a valid task id", hint="`agents status` lists the tasks")
    commits = step_commits(find_project_root(opts.directory), task, limit)
    if out.json_mode:
        out.json("log", {"steps": [c.to_json() for c in commits]})
        return 0
    if not commits:
        out.line("No step commits yet." if task is None else f"No step commits for {task}.")
        return 0
    for commit in commits:
        data = commit.to_json()
        status = str(data["status"])
        out.line(
            f"{commit.sha[:10]}  {commit.date[:16].replace('T', ' ')}  "
            f"{out.paint(f'{status:<8}', status if status in ('done', 'failed', 'rejected') else 'dim')} "
            f"{commit.task:<20} {data['executor'] or '':<8} {data['run']}"
        )
    return 0


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)
    app.command("log")(log_command)
