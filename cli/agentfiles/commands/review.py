"""`agents review`, `agents approve`, `agents reject` and `agents rewind`: a person's part of the loop."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import Optional

import typer

from agentfiles.commands.output import Options, plural


def review_command(
    ctx: typer.Context,
    diff: bool = typer.Option(True, "--diff/--no-diff", help="Show each step's output diff."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """List the steps whose handoff has not been reviewed since it last changed: each with its summary,
    its verification and the diff of its outputs. Then `agents approve TASK` or `agents reject TASK`."""
    from agentfiles.runner.review import pending_reviews

    opts: Options = ctx.obj
    out = opts.out(json_output)
    pending = pending_reviews(opts.directory, with_diff=diff)
    if out.json_mode:
        out.json("review", {"steps": [p.to_json() for p in pending]})
        return 0
    if not pending:
        out.line("Nothing to review: every handoff has been reviewed since it last changed.")
        return 0
    for item in pending:
        status = out.paint(item.status, item.status if item.status in ("done", "failed", "rejected", "uncertain") else "dim")
        out.line(f"{out.paint(item.task, 'bold')}  {status}  run {item.run}" + (f"  commit {item.commit[:10]}" if item.commit else ""))
        for line in (item.summary or "(no summary)").splitlines():
            out.line(f"  {line}")
        for check in item.checks:
            out.line(f"  check `{check['run']}`: {'passed' if check['ok'] else 'FAILED'}")
        if item.verification and item.verification.get("panel"):
            from agentfiles.commands.judges import render_panel

            render_panel(out, item.verification)
        elif item.verification:
            out.line(f"  verification: {item.verification.get('verdict')} by {item.verification.get('verifier')}")
            for check in item.verification.get("checks", []):
                out.line(f"    {check['verdict']}: {check['criterion']} ({check.get('evidence', '')})")
        if item.samples:
            from agentfiles.commands.judges import render_samples

            render_samples(out, item.samples)
        elif item.diff:
            for line in item.diff.rstrip().splitlines():
                out.line(f"  {line}")
        if item.status == "uncertain":
            choose = " --sample N" if item.samples else ""
            out.line(f"  next: `agents approve {item.task}{choose}` lands it, or `agents reject {item.task} --reason "
                     "TEXT` runs it again with the reason")
        elif item.status == "done":
            out.line(f"  next: `agents approve {item.task}`, or `agents reject {item.task} --reason TEXT`")
        else:  # approve refuses it: only a step that succeeded can be approved
            out.line(f"  next: `agents run {item.task}` runs it again (a {item.status} step cannot be approved); "
                     f"`agents reject {item.task} --reason TEXT` gives its next run a reason")
        out.line("")
    out.line(f"{plural(len(pending), 'step')} to review; what to do next is under each")
    return 0


def approve_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task whose latest run to approve."),
    sample: Optional[int] = typer.Option(
        None, "--sample", min=1, metavar="N", help="Of an uncertain sampled run, the sample whose outputs to land.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Approve a task's latest run: `review: {state: approved, by, at}` in its handoff, committed. An
    uncertain run (its verifiers or samples disagreed) lands its outputs with the approval."""
    from agentfiles.runner.review import record_review

    opts: Options = ctx.obj
    out = opts.out(json_output)
    result = record_review(opts.directory, task, "approved", sample=sample)
    _identity_warning(out, result.by)
    if out.json_mode:
        out.json("approve", result.to_json())
    else:
        out.line(f"approved run {result.run} of {task} ({result.commit[:8]})")
    return 0


def _identity_warning(out, by: str) -> None:  # type: ignore[no-untyped-def]
    if by == "unknown":
        out.diagnostic("warning", "git has no author identity, so the review names nobody",
                       "set one: git config user.name 'Your Name' && git config user.email you@example.com")


def reject_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task whose latest run to reject."),
    reason: str = typer.Option(..., "--reason", "-r", help="What is wrong: the next run is given this text."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Reject a task's latest run with a reason: recorded in its handoff and committed. The task becomes
    stale (`rejected in review`) and its next run is given the reason."""
    from agentfiles.errors import UsageError
    from agentfiles.runner.review import record_review

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if not reason.strip():
        raise UsageError("--reason is empty", hint="say what is wrong: the next run is given this text")
    result = record_review(opts.directory, task, "rejected", reason.strip())
    _identity_warning(out, result.by)
    if result.replaced and not out.json_mode:
        earlier = result.replaced
        out.diagnostic("warning", f"this replaces the earlier review ({earlier.get('state')} by {earlier.get('by')}"
                       + (f": {earlier.get('reason')}" if earlier.get("reason") else "") + ")")
    if out.json_mode:
        out.json("reject", result.to_json())
    else:
        out.line(f"rejected run {result.run} of {task} ({result.commit[:8]}); `agents run {task}` runs it again with the reason")
    return 0


def rewind_command(
    ctx: typer.Context,
    task: Optional[str] = typer.Argument(None, metavar="[TASK]", help="Go back to the state before this task's latest step."),
    rollout: Optional[str] = typer.Option(
        None, "--rollout", metavar="ID", help="Go back to the state before this rollout (`agents run --canary`) instead.",
    ),
    in_place: bool = typer.Option(
        False, "--in-place", help="Revert the step and every later step that depends on it, with new commits."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Go back to the state before TASK's latest step (or before a rollout's first step): by default on a
    new branch `agents/rewind/<task>-<n>` made at that step's parent and checked out (your branch is
    untouched); with --in-place, revert commits on the current branch. Refused while tracked files have
    uncommitted changes."""
    from agentfiles.errors import UsageError
    from agentfiles.runner.rewind import rewind, rewind_rollout

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if (task is None) == (rollout is None):
        raise UsageError("name a TASK or a --rollout ID (one of them)",
                         hint="`agents rewind TASK`, or `agents rewind --rollout ID --in-place`")
    result = rewind(opts.directory, task, in_place) if task else rewind_rollout(opts.directory, str(rollout), in_place)
    task = result.task
    if out.json_mode:
        out.json("rewind", result.to_json())
        return 0
    if result.branch:
        out.line(f"on branch {result.branch}, at {str(result.base)[:10]}: the state before {task}'s step {result.step[:10]}")
        out.line(f"`agents status` shows what is to run again; `agents run` runs it here")
    else:
        for item in result.reverted:
            out.line(f"reverted {item['task']} ({item['step'][:10]}) with {item['revert'][:10]}")
        # A reverted step is to run again unless the revert brought back an earlier run of the same
        # definition and inputs (a step re-run with nothing changed): `status` says which.
        out.line(f"{plural(len(result.reverted), 'step')} reverted; `agents status` shows which are to run again, "
                 "and `agents run` runs them")
    return 0


def register(app: typer.Typer) -> None:
    app.command("review")(review_command)
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)
    app.command("rewind")(rewind_command)
