"""`agents new task ID` and `agents new role NAME`: write valid convention files from flags."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import List, Optional

import typer

from agentfiles.commands.output import Options
from agentfiles.errors import UsageError

new_app = typer.Typer(help="Create a task or a role file.", no_args_is_help=True)


def new_task_command(
    ctx: typer.Context,
    task_id: str = typer.Argument(..., metavar="ID", help="The task id, also its file name."),
    title: Optional[str] = typer.Option(None, "--title", "-t", help="One line: what the step achieves."),
    role: Optional[str] = typer.Option(None, "--role", "-r", help="The role that does the step."),
    inputs: Optional[List[str]] = typer.Option(
        None, "--input", "-i", help="A file or glob the step reads, or handoff:TASK for a task's handoff."
    ),
    outputs: Optional[List[str]] = typer.Option(None, "--output", "-o", help="A file the step writes."),
    needs: Optional[List[str]] = typer.Option(None, "--need", "-n", help="A task that must be done first."),
    acceptance: Optional[List[str]] = typer.Option(
        None, "--acceptance", "-a", help="A criterion the verifier judges."
    ),
    checks: Optional[List[str]] = typer.Option(None, "--check", help="A command that must exit 0."),
    command: Optional[str] = typer.Option(
        None, "--command", "--run", "-c", help="Make a deterministic step that runs this shell command (`run:`)."
    ),
    verifier: Optional[List[str]] = typer.Option(
        None, "--verifier", help="The role that verifies the step; repeat it for a panel of judges."
    ),
    agree: Optional[str] = typer.Option(None, "--agree", metavar="all|majority", help="How a panel decides (default all)."),
    samples: Optional[int] = typer.Option(
        None, "--samples", min=1, max=9, metavar="K", help="Run the doer K times; the majority output goes on."
    ),
    intent: Optional[str] = typer.Option(None, "--intent", help="The outcome wanted, and why."),
    foreach: Optional[str] = typer.Option(
        None, "--foreach", help="One step per file matching this glob; {item}, {name}, {stem} in the flags."
    ),
    budget_tokens: Optional[int] = typer.Option(
        None, "--budget-tokens", min=1, metavar="N", help="Most tokens of context the step may be sent (budget.context_tokens)."
    ),
    budget_output_tokens: Optional[int] = typer.Option(
        None, "--budget-output-tokens", min=1, metavar="N", help="Most tokens of each answer (budget.output_tokens)."
    ),
    budget_usd: Optional[float] = typer.Option(
        None, "--budget-usd", metavar="USD", help="Most dollars the step may spend (budget.usd)."
    ),
    retries: Optional[int] = typer.Option(
        None, "--retries", min=0, max=10, metavar="N", help="Times the doer runs again when its verifier rejects it."
    ),
    timeout: Optional[float] = typer.Option(
        None, "--timeout", metavar="SECONDS", help="Seconds before the step is stopped as hung."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Write .agents/tasks/ID.md (refuses an existing or invalid id, and unknown roles or needs).
    Unset limits (budget, retries, timeout) come from the role, then .agents/config.yaml."""
    from agentfiles.storage.scaffold import new_task

    opts: Options = ctx.obj
    out = opts.out(json_output)
    path, warnings = new_task(
        opts.directory,
        task_id,
        title=title,
        role=role,
        inputs=inputs,
        outputs=outputs,
        needs=needs,
        acceptance=acceptance,
        checks=checks,
        command=command,
        verifier=verifier,
        agree=agree,
        samples=samples,
        intent=intent,
        foreach=foreach,
        budget={"context_tokens": budget_tokens, "output_tokens": budget_output_tokens, "usd": budget_usd},
        retries=retries,
        timeout=timeout,
    )
    if out.json_mode:
        out.json("new", {"type": "task", "id": task_id, "path": str(path), "warnings": [w.to_json() for w in warnings]})
        return 0
    for warning in warnings:
        out.diagnostic("warning", warning.message, warning.hint)
    out.line(f"created {path}")
    return 0


def _labels(values: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise UsageError(f"--label {value!r} is not KEY=VALUE", hint="for example: --label lang=python")
        labels[key.strip()] = val.strip()
    return labels


def new_role_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The role name, also its file name."),
    description: Optional[str] = typer.Option(None, "--description", "-d", help="What the role is for."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="sonnet, opus, haiku, inherit or an id."),
    labels: Optional[List[str]] = typer.Option(None, "--label", "-l", help="KEY=VALUE, for routing."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="The system prompt (the file's body)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Write .agents/roles/NAME.md in Claude Code's subagent format."""
    from agentfiles.storage.scaffold import new_role

    opts: Options = ctx.obj
    out = opts.out(json_output)
    path = new_role(
        opts.directory, name, description=description, model=model, labels=_labels(labels or []), prompt=prompt
    )
    if out.json_mode:
        out.json("new", {"type": "role", "name": name, "path": str(path)})
    else:
        out.line(f"created {path}")
    return 0


new_app.command("task")(new_task_command)
new_app.command("role")(new_role_command)


def register(app: typer.Typer) -> None:
    app.add_typer(new_app, name="new")
