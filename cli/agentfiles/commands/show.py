"""`agents show TASK`: what a step saw, did and left, read back from its handoff, its run record and its
commit; `--context` prints what it saw (a model's exact requests, or a command's files and environment)."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import Optional

import typer

from agentfiles.commands.output import Options, Output
from agentfiles.errors import UsageError


def show_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task to show."),
    run: Optional[str] = typer.Option(None, "--run", help="An earlier run by its id (default: the latest)."),
    context: bool = typer.Option(
        False, "--context",
        help="Print what the step saw, from the record: exactly what the model was sent, or for a command step "
        "its command, inputs with their hashes, environment names and isolation.",
    ),
    diff: bool = typer.Option(False, "--diff", help="Print the diff of the outputs the step produced."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Print a task's handoff and the record of its run: inputs and outputs with their hashes, the
    command or model, exit code or usage, the environment's names, checks, and the tail of its output."""
    from agentfiles.storage.inspect import load_step

    opts: Options = ctx.obj
    out = opts.out(json_output)
    step = load_step(opts.directory, task, run)
    if not diff and not context:
        if out.json_mode:
            out.json("show", step.to_json())
        else:
            _summary(out, step)
        return 0
    payload = {"task": task, "run": step.meta.get("run")}
    if diff:
        payload.update(commit=step.commit, landed_by=step.landed_by, diff=_diff(opts, step))
        if not out.json_mode:
            out.line(payload["diff"].rstrip() or f"run {step.meta.get('run')} of {task} changed no output")
    if context:  # after the diff, when both are asked for
        if not out.json_mode and diff:
            out.line("")
        payload.update(_context(opts, out, step))
    if out.json_mode:
        out.json("show", payload)
    return 0


def _diff(opts: Options, step) -> str:  # type: ignore[no-untyped-def]
    from agentfiles.core.paths import Layout, find_project_root
    from agentfiles.runner.review import output_diff
    from agentfiles.storage.records import run_folder

    root = find_project_root(opts.directory)
    if step.commit is None:
        raise UsageError(f"run {step.meta.get('run')} of {step.task} has no commit on this branch",
                         hint="`agents log` lists the step commits")
    # An uncertain run's outputs landed, if at all, with a person's approval: that commit's diff is theirs.
    return output_diff(root, step.landed_by or step.commit, step.meta, run_folder(Layout(root), step.meta.get("run")))


def _context(opts: Options, out: Output, step) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """What the step saw, printed (text) and returned (for --json): a model's requests, the verifier's,
    or a command step's command, files, environment and isolation."""
    from agentfiles.core.paths import Layout, find_project_root, is_valid_id
    from agentfiles.runner.agent import render_conversation
    from agentfiles.storage.inspect import recorded_turns
    from agentfiles.storage.records import run_folder

    record = step.record or {}
    command = step.meta.get("executor") == "command"  # a Claude Code step's record has a `command` too
    if not step.requests and not command:
        raise UsageError(f"run {step.meta.get('run')} of {step.task} sent nothing to a model",
                         hint=f"it failed before any request; `agents show {step.task}` says why")
    layout = Layout(find_project_root(opts.directory))
    folder = run_folder(layout, step.meta.get("run"))
    verifier = recorded_turns(layout, folder / "verifier")
    payload: dict = {"requests": step.requests}  # type: ignore[type-arg]
    if command:
        payload = {"command": _command_context(record, step.meta)}
        if verifier:
            payload["verifier_requests"] = verifier
    if out.json_mode:
        return payload
    if command:
        _render_command_context(out, payload["command"])
    else:
        if step.meta.get("executor") == "claude-code":
            out.line("(carried out by Claude Code: `claude -p` was given this system prompt and prompt, with its own "
                     "file tools in a folder holding the declared inputs)\n")
        out.line(render_conversation(step.requests).rstrip())
    if verifier:
        out.line(f"\n##### the verifier ({record.get('verifier', {}).get('role', '?')}), "
                 "in a conversation of its own #####\n")
        out.line(render_conversation(verifier).rstrip())
    for judge in (record.get("panel") or {}).get("judges") or []:  # a verifier panel: each judge on its own
        role = str(judge.get("role", "?"))
        turns = recorded_turns(layout, folder / "panel" / role) if is_valid_id(role) else []  # a record is untrusted
        if turns:
            out.line(f"\n##### the verifier {role} ({judge.get('model')}), one of a panel, in a conversation of its own #####\n")
            out.line(render_conversation(turns).rstrip())
    others = [s for s in record.get("samples") or [] if not s.get("chosen")]
    if others:
        where = ", ".join(f"{layout.rel(folder)}/samples/sample-{one.get('sample')}/" for one in others)
        out.line(f"\n(the other samples, each a doer in a context of its own: {where})")
    earlier = sorted(p.name for p in folder.glob("attempt-*") if p.is_dir())
    if earlier:
        out.line(f"\n(earlier attempts, rejected by the verifier: {', '.join(f'{layout.rel(folder)}/{n}/' for n in earlier)})")
    return payload


def _command_context(record: dict, meta: dict) -> dict:  # type: ignore[type-arg]
    """What a command step saw, as its run record keeps it (names of variables, never their values)."""
    return {
        "command": record.get("command"),
        "inputs": record.get("inputs") or meta.get("inputs") or {},
        "outputs": sorted((record.get("outputs") or {}).keys()) or sorted((meta.get("outputs") or {}).keys()),
        "env": record.get("env") or [],
        "env_withheld": record.get("env_withheld") or [],
        "isolation": record.get("isolation") or {"mode": meta.get("isolation")},
        "timeout_s": record.get("timeout_s"),
        "feedback": record.get("feedback") or [],
    }


def _render_command_context(out: Output, seen: dict) -> None:  # type: ignore[type-arg]
    out.line("(a command step: no model was sent anything; its command ran in an empty folder holding only "
             "the inputs below and the folders of its outputs)")
    out.line(f"\ncommand: {seen['command']}")
    out.line("inputs:" if seen["inputs"] else "inputs: none")
    for path, digest in seen["inputs"].items():
        out.line(f"  {path}  {digest}")
    out.line(f"outputs it may write: {', '.join(seen['outputs']) or 'none recorded'}")
    own = [n for n in seen["env"] if n.startswith("AGENTS_")]
    inherited = [n for n in seen["env"] if not n.startswith("AGENTS_")]
    out.line(f"environment (names only): {', '.join(own) or 'none'}")
    if inherited:
        out.line(f"  inherited: {', '.join(inherited)}")
    if seen["env_withheld"]:
        out.line(f"  withheld as secrets: {', '.join(seen['env_withheld'])}")
    isolation = seen["isolation"] or {}
    network = {True: ", network open", False: ", no network"}.get(isolation.get("network"), "")
    toolchain = f", toolchain {', '.join(isolation['toolchain'])}" if isolation.get("toolchain") else ""
    out.line(f"isolation: {isolation.get('mode') or 'not recorded'}{network}{toolchain}")
    if seen["timeout_s"]:
        out.line(f"timeout: {seen['timeout_s']:g} s")
    for heading, _ in seen["feedback"]:
        out.line(f"given: {heading} (AGENTS_REVIEW_REASON)")


def _summary(out: Output, step) -> None:  # type: ignore[no-untyped-def]
    """The handoff's facts and body, then the run record's."""
    meta, task = step.meta, step.task
    status = meta.get("status", "?")
    rejected = (step.review or {}).get("state") == "rejected"  # the handoff's status stands; a person overruled it
    out.line(f"{out.paint(task, 'bold')}  {out.paint(status, status if status in ('done', 'failed', 'rejected', 'uncertain') else 'dim')}"
             + (f", {out.paint('rejected in review', 'rejected')}" if rejected else "") + f"  run {meta.get('run')}")
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
    if step.landed_by:
        facts.append(f"outputs landed by approval {step.landed_by[:10]}")
    out.line("  " + "   ".join(facts))
    if meta.get("failure"):
        failure = meta["failure"]
        out.line(f"  {out.paint('failure', 'failed')} {failure.get('kind')}: {failure.get('detail')}")
    if meta.get("cached_from"):
        approval = meta.get("cached_approval") if isinstance(meta.get("cached_approval"), dict) else None
        approved = (f", approved by {approval.get('by') or 'a person'}" + (f" at {approval['at']}" if approval.get("at") else "")
                    + f" (run {approval.get('run')}, commit {str(approval.get('commit'))[:10]})") if approval else ""
        out.line(f"  outputs of run {meta['cached_from']} from the run cache{approved}")
    _review(out, step)
    for title, values in (("inputs", meta.get("inputs") or {}), ("outputs", meta.get("outputs") or {})):
        if values:
            out.line(f"{title}:")
            for path, digest in values.items():
                out.line(f"  {path}  {out.paint(str(digest)[:19], 'dim')}")
    if meta.get("deleted"):  # files under its output globs that it deleted
        out.line("deleted:")
        for path in meta["deleted"]:
            out.line(f"  {path}")
    out.line("")
    out.line(step.body.rstrip())
    if step.record:
        out.line("")
        _record(out, step)


def _review(out: Output, step) -> None:  # type: ignore[no-untyped-def]
    """How a person reviewed the run, and the earlier reviews a later one replaced."""
    review = step.review
    if review is None:
        if step.meta.get("status") in ("done", "uncertain"):
            out.line(f"review: none yet (`agents approve {step.task}` or `agents reject {step.task} --reason TEXT`)")
        return
    state = str(review.get("state"))
    out.line(f"review: {out.paint(state, 'done' if state == 'approved' else 'rejected')}{_reviewed(review)}")
    for earlier in step.reviews[:-1] if step.reviews and review.get("commit") else []:
        out.line(f"  earlier: {earlier['state']}{_reviewed(earlier)} (commit {str(earlier['commit'])[:10]})")


def _reviewed(review: dict) -> str:  # type: ignore[type-arg]
    """` by WHO at WHEN: REASON`, of what a review records."""
    by = f" by {review['by']}" if review.get("by") else ""
    at = f" at {review['at']}" if review.get("at") else ""
    return by + at + (f": {review['reason']}" if review.get("reason") else "")


def _record(out: Output, step) -> None:  # type: ignore[no-untyped-def]
    meta, record = step.meta, step.record
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
        for call in [t for t in record.get("tools") or [] if t.get("refused")]:
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
        out.line(f"  check `{check.get('run')}`: {'passed' if check.get('ok') else 'FAILED'}")
    if meta.get("status", "?") != "done" and record.get("outputs"):
        out.line(f"  its proposed outputs were not applied; they are kept in .agents/runs/{meta.get('run')}/proposed/")
    for name in ("stdout", "stderr"):
        text = step.streams.get(name, "")
        if text.strip():
            lines = text.rstrip().splitlines()[-20:]
            out.line(f"  {name} (last {len(lines)} lines):")
            for line in lines:
                out.line(f"    {line}")


def register(app: typer.Typer) -> None:
    app.command("show")(show_command)
