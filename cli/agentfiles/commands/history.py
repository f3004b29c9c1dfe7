"""`agents log [TASK]` and `agents replay TASK`: the step history from the step commits, with usage by task,
role and model; a recorded step carried out again and compared byte for byte."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import Optional

import typer

from agentfiles.commands.output import Options, Output, plural
from agentfiles.errors import UsageError


def log_command(
    ctx: typer.Context,
    task: Optional[str] = typer.Argument(None, metavar="[TASK]", help="Only this task's steps."),
    limit: Optional[int] = typer.Option(None, "--max-count", "-n", min=1, help="At most this many steps."),
    rollout: Optional[str] = typer.Option(
        None, "--rollout", metavar="ID", help="Only the steps of this rollout (`agents run --canary`).",
    ),
    usage: bool = typer.Option(
        False, "--usage",
        help="Also total tokens, cost and time by task, role and model (each conversation counts for the role that "
        "had it: a verifier's tokens and time for the verifier's role; the rest of a step's time for its doer's).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """List step commits, newest first, from their Agents-* trailers and the handoffs they committed:
    task, status, role, model, tokens, cost and duration."""
    from agentfiles.core.paths import find_project_root, is_valid_step_id
    from agentfiles.storage.history import step_commits

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if task is not None and not is_valid_step_id(task):
        raise UsageError(f"'{task}' is not a valid task id", hint="`agents status` lists the tasks")
    if rollout is None:
        commits = step_commits(find_project_root(opts.directory), task, limit, handoffs=True)
    else:
        commits = [c for c in step_commits(find_project_root(opts.directory), task, handoffs=True)
                   if c.trailers.get("Agents-Rollout") == rollout][:limit]
        if not commits:
            raise UsageError(f"no step of rollout {rollout} on this branch",
                             hint="`agents log --json` names each step's rollout; `agents run --canary N` starts one")
    steps = [c.to_json() for c in commits]
    totals = _usage_totals(find_project_root(opts.directory), steps) if usage else None
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
    _log_rows(out, commits, steps)
    if totals is not None:
        _log_totals(out, totals)
    return 0


def _log_rows(out: Output, commits: list, steps: list) -> None:  # type: ignore[type-arg]
    """One line per step commit, the columns as wide as their longest value."""
    tasks = max(len(c.task) for c in commits)
    roles = max(len(d["role"] or "none") for d in steps)
    models = max(len(d["model"] or "none") for d in steps)
    statuses = max(8, *(len(str(d["status"])) for d in steps))  # `uncertain` is one longer than the rest
    for commit, data in zip(commits, steps):
        status = "reverted" if data.get("reverted") else str(data["status"])
        used = data.get("usage") or {}
        tokens = int(used.get("input_tokens", 0)) + int(used.get("output_tokens", 0))
        figures = f"{tokens:>8} tok ${float(used.get('cost_usd', 0)):>7.4f} {float(used.get('duration_s', 0)):>7.2f} s"
        out.line(
            f"{commit.sha[:10]}  {commit.date[:16].replace('T', ' ')}  "
            f"{out.paint(f'{status:<{statuses}}', status if status in ('done', 'failed', 'rejected', 'uncertain') else 'dim')} "
            f"{commit.task:<{tasks}}  {(data['role'] or 'none'):<{roles}}  {(data['model'] or 'none'):<{models}}  {figures}"
        )


def _log_totals(out: Output, totals: dict) -> None:  # type: ignore[type-arg]
    width = max(len(name) for by in ("task", "role", "model") for name in totals[f"by_{by}"])
    for by in ("task", "role", "model"):
        out.line("")
        out.line(out.paint(f"by {by}", "bold"))
        for name, t in totals[f"by_{by}"].items():
            noun = "step" if t["steps"] == 1 else "steps"
            out.line(f"  {name:<{width}}  {t['steps']:>4} {noun:<5} {t['input_tokens']:>9} in {t['output_tokens']:>8} out "
                     f"${t['cost_usd']:>8.4f} {t['duration_s']:>8.2f} s")
    t = totals["all"]
    out.line(f"\ntotal: {plural(t['steps'], 'step')}, {t['input_tokens']} in, {t['output_tokens']} out, "
             f"${t['cost_usd']:.4f}, {t['duration_s']:.2f} s")


def _usage_totals(root, steps: list) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Totals by task, role and model: each conversation of a step (the doer's, its verifier's, a
    discussion's) for the role that had it, as the step's run record tells them apart."""
    from agentfiles.core.paths import Layout
    from agentfiles.core.usage import usage_totals
    from agentfiles.storage.records import read_record

    layout = Layout(root)
    return usage_totals(steps, [read_record(layout, str(s["run"])) if s.get("run") else None for s in steps])


def replay_command(
    ctx: typer.Context,
    task: str = typer.Argument(..., metavar="TASK", help="The task whose run to replay."),
    run: Optional[str] = typer.Option(None, "--run", help="An earlier run by its id (default: the latest)."),
    force: bool = typer.Option(False, "--force", help="Replay even though the inputs changed since the run."),
    live: bool = typer.Option(False, "--live", help="Send the recorded context to the model again instead of replaying its answers."),
    samples: Optional[int] = typer.Option(
        None, "--samples", min=1, max=20, metavar="K",
        help="With --live: ask K times at once and count how many fresh answers match the recorded outputs (drift).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Carry a recorded step out again with no network (recorded answers, or the command again) and
    compare its outputs with the recorded ones byte for byte; --live asks the model again with the
    recorded context and shows how its outputs differ now. Commits nothing; exits 1 on a difference."""
    from agentfiles.runner.replay import replay

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if samples is not None:
        if not live:
            raise UsageError("--samples measures drift against the model: it needs --live",
                             hint=f"`agents replay {task} --live --samples {samples}`")
        return _drift(out, task, run, samples, force, opts)
    report = replay(opts.directory, task, run, force=force, live=live)
    if out.json_mode:
        out.json("replay", report.to_json())
        return 0 if report.identical else 1
    for line in report.input_differences:
        out.diagnostic("warning", f"input changed since the run: {line}")
    if report.env_missing:
        out.diagnostic("warning", f"{_names(report.env_missing)} of the task's env: set when the step ran and "
                       "unset now: its commands run without", "set it as it was (no value is recorded) to replay the step")
    for path, hashes in report.outputs.items():
        same = hashes["recorded"] == hashes["replayed"]
        mark = out.paint("same", "done") if same else out.paint("DIFFERS", "failed")
        out.line(f"{mark}  {path}  recorded {str(hashes['recorded'] or '(not written)')[:19]}  "
                 f"replayed {str(hashes['replayed'] or '(not written)')[:19]}")
    for line in report.request_differences:
        out.line(f"note: {line}")
    for path, text in report.diffs.items():
        out.line(text.rstrip() if text else f"{path}: differs in bytes only (encoding or line endings)")
    if report.recorded_failure:
        out.line(f"the recorded run failed: {report.recorded_failure}")
    if report.failure:
        out.line(f"the replay failed: {report.failure}")
    if report.identical:
        again = ", and it failed the same way" if report.recorded_failure else ""
        out.line(f"replayed run {report.run} of {task}: outputs identical{again}")
        return 0
    message, hint = _replay_verdict(report)
    out.diagnostic("error", f"replaying run {report.run} of {task} did not reproduce it: {message}", hint)
    return 1


def _names(names: list[str]) -> str:
    return ("variable " if len(names) == 1 else "variables ") + ", ".join(names)


def _replay_verdict(report) -> tuple:  # type: ignore[no-untyped-def,type-arg]
    """What differs between a run and its replay, in words, and where to look."""
    differs = [p for p, v in report.outputs.items() if v["recorded"] != v["replayed"]]
    found = []
    if differs:
        found.append(f"{', '.join(differs[:3])}{' ...' if len(differs) > 3 else ''} differ{'s' if len(differs) == 1 else ''}")
    recorded, now = report.recorded_failure, report.failure
    if recorded and not now:
        found.append("the recorded run failed and the replay did not")
    elif now and not recorded:
        found.append("the replay failed and the recorded run did not")
    elif now and recorded and now.split(":", 1)[0] != recorded.split(":", 1)[0]:
        found.append("the replay failed in another way than the recorded run")
    if report.request_differences:
        found.append("the requests differ from the recorded ones (the inputs, task or role changed since)")
    if not report.outputs and not recorded:
        found.append("the record holds no outputs to compare")
    if report.env_missing:
        found.append(f"{_names(report.env_missing)} set when it ran and unset now")
    where = "the differences are above" if differs or recorded or now else "nothing was produced to compare"
    look = "; `agents show --context` prints what the step saw" if report.request_differences or differs else ""
    return "; ".join(found) or "the outputs differ", f"{where}{look}"


def _drift(out: Output, task: str, run: Optional[str], samples: int, force: bool, opts: Options) -> int:
    """`replay --live --samples K`: how many of K fresh answers match the recorded outputs, with the diffs."""
    from agentfiles.runner.drift import drift

    found = drift(opts.directory, task, run, samples, force=force)
    if out.json_mode:
        out.json("drift", found.to_json())
        return 0 if found.matching == samples else 1
    for line in found.input_differences:
        out.diagnostic("warning", f"input changed since the run: {line}")
    for group in found.groups:
        named = ", ".join(str(n) for n in group["samples"])
        what = "match the recorded outputs" if group["matches"] else (f"failed: {group['failure']}" if group["failure"]
                                                                     else "differ from the recorded outputs")
        out.line(f"sample{'s' if len(group['samples']) > 1 else ''} {named}: {what}")
        for text in group["diffs"].values():
            for line in text.rstrip().splitlines():
                out.line(f"  {line}")
    share = found.matching / samples
    out.line(f"run {found.run} of {task}: {found.matching} of {samples} fresh answers match the recorded outputs "
             f"({share:.0%}); {len(found.groups)} distinct result(s)")
    return 0 if found.matching == samples else 1


def register(app: typer.Typer) -> None:
    app.command("log")(log_command)
    app.command("replay")(replay_command)
