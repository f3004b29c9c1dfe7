"""`agents show TASK` and `agents log [TASK]`: what a step saw, did and left, read back from its handoff,
its run record and its commit."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import Optional

import typer

from agentfiles.commands.output import Options
from agentfiles.errors import UsageError


def show_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task to show."),
    run: Optional[str] = typer.Option(None, "--run", help="An earlier run by its id (default: the latest)."),
    context: bool = typer.Option(False, "--context", help="Print exactly what the model was sent, from the record."),
    diff: bool = typer.Option(False, "--diff", help="Print the diff of the outputs the step produced."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Print a task's handoff and the record of its run: inputs and outputs with their hashes, the
    command or model, exit code or usage, the environment's names, checks, and the tail of its output."""
    from agentfiles.storage.inspect import load_step

    opts: Options = ctx.obj
    out = opts.out(json_output)
    step = load_step(opts.directory, task, run)
    if diff:
        from agentfiles.core.paths import Layout, find_project_root
        from agentfiles.runner.review import output_diff

        root = find_project_root(opts.directory)
        if step.commit is None:
            raise UsageError(f"run {step.meta.get('run')} of {task} has no commit on this branch",
                             hint="`agents log` lists the step commits")
        text = output_diff(root, step.commit, step.meta, Layout(root).runs / str(step.meta.get("run")))
        if out.json_mode:
            out.json("show", {"task": task, "run": step.meta.get("run"), "commit": step.commit, "diff": text,
                              **({"requests": step.requests} if context else {})})
            return 0
        out.line(text.rstrip() if text else f"run {step.meta.get('run')} of {task} changed no output")
        if not context:
            return 0
        out.line("")
    if context:  # after the diff, when both are asked for
        from agentfiles.runner.agent import render_conversation

        if not step.requests:
            raise UsageError(f"run {step.meta.get('run')} of {task} sent nothing to a model", hint="--context is for model steps")
        if out.json_mode:
            out.json("show", {"task": task, "run": step.meta.get("run"), "requests": step.requests})
            return 0
        if step.meta.get("executor") == "claude-code":
            out.line("(carried out by Claude Code: `claude -p` was given this system prompt and prompt, with its own "
                     "file tools in a folder holding the declared inputs)\n")
        out.line(render_conversation(step.requests).rstrip())
        from agentfiles.core.paths import Layout, find_project_root
        from agentfiles.storage.inspect import recorded_turns

        layout = Layout(find_project_root(opts.directory))
        folder = layout.runs / str(step.meta.get("run"))
        verifier = recorded_turns(layout, folder / "verifier")
        if verifier:
            out.line(f"\n##### the verifier ({(step.record or {}).get('verifier', {}).get('role', '?')}), "
                     "in a conversation of its own #####\n")
            out.line(render_conversation(verifier).rstrip())
        earlier = sorted(p.name for p in folder.glob("attempt-*") if p.is_dir())
        if earlier:
            out.line(f"\n(earlier attempts, rejected by the verifier: {', '.join(f'{layout.rel(folder)}/{n}/' for n in earlier)})")
        return 0
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
        if record.get("model"):
            used = record.get("usage") or {}
            turns = (meta.get("usage") or {}).get("turns", record.get("turns", 0))
            attempts = f", attempt {record['attempt']}" if record.get("attempt", 1) > 1 else ""
            out.line(f"  model: {record['model']}, {turns} turns in all{attempts}, context ~{record.get('context_tokens')} tokens")
            out.line(
                f"  usage: {used.get('input_tokens', 0)} in, {used.get('output_tokens', 0)} out, "
                f"{used.get('cache_read_input_tokens', 0)} cache read, {used.get('cache_creation_input_tokens', 0)} cache write, "
                f"${used.get('cost_usd', 0):.4f}"
            )
            refused = [t for t in record.get("tools") or [] if t.get("refused")]
            for call in refused:
                out.line(f"  refused {call['tool']}({call.get('path')}): {call['refused']}")
            for retry in record.get("retries") or []:
                out.line(f"  retried after: {retry.get('error')}")
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
        proposed = f".agents/runs/{meta.get('run')}/proposed/"
        if status != "done" and record.get("outputs"):
            out.line(f"  its proposed outputs were not applied; they are kept in {proposed}")
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
    usage: bool = typer.Option(
        False, "--usage",
        help="Also total tokens, cost and time by task, role and model (a step's verifier and retries count for its role and model).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """List step commits, newest first, from their Agents-* trailers and the handoffs they committed:
    task, status, role, model, tokens, cost and duration."""
    from agentfiles.core.paths import find_project_root, is_valid_step_id
    from agentfiles.storage.git import step_commits

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if task is not None and not is_valid_step_id(task):
        raise UsageError(f"'{task}' is not a valid task id", hint="`agents status` lists the tasks")
    commits = step_commits(find_project_root(opts.directory), task, limit, handoffs=True)
    steps = [c.to_json() for c in commits]
    totals = None
    if usage:
        from agentfiles.core.usage import usage_totals

        totals = usage_totals(steps)
    if out.json_mode:
        out.json("log", {"steps": steps, **({"totals": totals} if totals is not None else {})})
        return 0
    if not commits:
        if task is not None:
            from agentfiles.core.paths import Layout

            layout = Layout(find_project_root(opts.directory))
            if not layout.task_file(task.split("@", 1)[0]).is_file():
                from agentfiles.core.typos import unknown_task

                raise unknown_task([task], layout.step_ids())
        out.line("No step commits yet." if task is None else f"No step commits for {task}.")
        return 0
    for commit, data in zip(commits, steps):
        status = "reverted" if data.get("reverted") else str(data["status"])
        used = data.get("usage") or {}
        tokens = int(used.get("input_tokens", 0)) + int(used.get("output_tokens", 0))
        figures = f"{tokens:>8} tok ${float(used.get('cost_usd', 0)):>7.4f} {float(used.get('duration_s', 0)):>7.2f} s"
        out.line(
            f"{commit.sha[:10]}  {commit.date[:16].replace('T', ' ')}  "
            f"{out.paint(f'{status:<8}', status if status in ('done', 'failed', 'rejected') else 'dim')} "
            f"{commit.task:<20} {(data['role'] or 'none'):<10} {(data['model'] or 'none'):<18} {figures}"
        )
    if totals is not None:
        for by in ("task", "role", "model"):
            out.line("")
            out.line(out.paint(f"by {by}", "bold"))
            for name, t in totals[f"by_{by}"].items():
                out.line(f"  {name:<24} {t['steps']:>4} steps {t['input_tokens']:>9} in {t['output_tokens']:>8} out "
                         f"${t['cost_usd']:>8.4f} {t['duration_s']:>8.2f} s")
        t = totals["all"]
        out.line(f"\ntotal: {t['steps']} steps, {t['input_tokens']} in, {t['output_tokens']} out, "
                 f"${t['cost_usd']:.4f}, {t['duration_s']:.2f} s")
    return 0


def replay_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task whose run to replay."),
    run: Optional[str] = typer.Option(None, "--run", help="An earlier run by its id (default: the latest)."),
    force: bool = typer.Option(False, "--force", help="Replay even though the inputs changed since the run."),
    live: bool = typer.Option(False, "--live", help="Send the recorded context to the model again instead of replaying its answers."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Carry a recorded step out again with no network (recorded answers, or the command again) and
    compare its outputs with the recorded ones byte for byte; --live asks the model again with the
    recorded context and shows how its outputs differ now. Commits nothing; exits 1 on a difference."""
    from agentfiles.runner.replay import replay

    opts: Options = ctx.obj
    out = opts.out(json_output)
    report = replay(opts.directory, task, run, force=force, live=live)
    if out.json_mode:
        out.json("replay", report.to_json())
        return 0 if report.identical else 1
    for line in report.input_differences:
        out.diagnostic("warning", f"input changed since the run: {line}")
    for path, hashes in report.outputs.items():
        same = hashes["recorded"] == hashes["replayed"]
        mark = out.paint("same", "done") if same else out.paint("DIFFERS", "failed")
        out.line(f"{mark}  {path}  recorded {str(hashes['recorded'])[:19]}  replayed {str(hashes['replayed'])[:19]}")
    for line in report.request_differences:
        out.line(f"note: {line}")
    for path, text in report.diffs.items():
        out.line(text.rstrip() if text else f"{path}: differs in bytes only (encoding or line endings)")
    if report.failure:
        out.line(f"the replayed step failed: {report.failure}")
    if report.identical:
        out.line(f"replayed run {report.run} of {task}: outputs identical")
        return 0
    if report.request_differences and not report.diffs and not report.failure:
        out.diagnostic("error", f"replaying run {report.run} of {task} sent different requests than the record "
                       "(the outputs are the same)", "the context assembled now differs: inputs, task or role changed")
        return 1
    out.diagnostic("error", f"replaying run {report.run} of {task} did not reproduce its outputs",
                   "see the differences above; `agents show --context` prints what the model was sent")
    return 1


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)
    app.command("log")(log_command)
    app.command("replay")(replay_command)
