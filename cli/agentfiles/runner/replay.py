"""`agents replay`: carry a recorded step out again without the network. A model step gets its recorded
answers back in order (each request is compared with the recorded one); a command step runs its command
again. The outputs are compared with the recorded hashes, byte for byte; nothing is committed."""

from __future__ import annotations

import os
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.conversation import CallFailed, Limits, converse
from agentfiles.core.records import record
from agentfiles.core.tool_calls import DoerTools
from agentfiles.core.fingerprint import digest_bytes
from agentfiles.core.globs import OutputSet
from agentfiles.errors import UsageError
from agentfiles.executors.command import CommandExecutor
from agentfiles.executors.sandbox import Sandbox
from agentfiles.executors.shell import FOLDER_REFUSAL, StepShell
from agentfiles.runner.agent import agent_plan
from agentfiles.runner.execute import output_failure
from agentfiles.runner.resolve import resolve_step
from agentfiles.storage.files import text_reader
from agentfiles.storage.inspect import load_step, recorded_turns
from agentfiles.storage.records import recorded_paths, run_folder
from agentfiles.storage.workspace import open_workspace


# Failures decided after the step's own work (its verifier, its checks, the secret and tripwire checks):
# a replay carries out the work again, not those judgements, so it cannot fail that way.
JUDGED_AFTER = ("rejected", "check_failed", "secret_leak", "sandbox_escape")
DELETED = "(deleted)"  # what a replay report says of a file the step deleted


@record
class ReplayReport:
    task: str
    run: str
    identical: bool
    outputs: dict[str, dict[str, str | None]] = field(default_factory=dict)  # path -> recorded, replayed
    request_differences: list[str] = field(default_factory=list)
    input_differences: list[str] = field(default_factory=list)
    failure: str | None = None  # how the replay failed
    recorded_failure: str | None = None  # how the recorded run failed, where a replay can fail the same way
    live: bool = False
    diffs: dict[str, str] = field(default_factory=dict)  # path -> unified diff, recorded -> replayed
    env_missing: list[str] = field(default_factory=list)  # the task's `env:` the run had and this replay has not

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "run": self.run,
            "identical": self.identical,
            "outputs": self.outputs,
            "request_differences": self.request_differences,
            "input_differences": self.input_differences,
            "failure": self.failure,
            "recorded_failure": self.recorded_failure,
            "live": self.live,
            "diffs": self.diffs,
            "env_missing": self.env_missing,
        }


def replay(
    directory: Path, task_id: str, run: str | None = None, *, force: bool = False, live: bool = False
) -> ReplayReport:
    """Offline: the recorded answers are given back. `live`: the recorded first request is sent to the
    model again (the same context, byte for byte) and the outputs it writes now are compared."""
    workspace = open_workspace(directory)
    workspace.require_loaded()
    project = workspace.project
    latest = project.handoffs.get(task_id)
    # The latest run is read from its handoff as it is now, with a review since (a person's choice of sample).
    view = load_step(directory, task_id, None if latest is not None and latest.model.run == run else run)
    run_id = str(view.meta.get("run"))
    record = view.record or {}
    if not record:
        raise UsageError(f"run {run_id} of {task_id} has no record to replay", hint="replay needs .agents/runs/<run>/record.json")
    if task_id.split("@", 1)[0] not in project.tasks:
        from agentfiles.core.typos import unknown_task

        raise unknown_task([task_id], project.tasks)
    if record.get("executor") == "claude-code":
        raise UsageError(
            f"run {run_id} of {task_id} was carried out by Claude Code, whose session cannot be replayed offline",
            hint=f"`agents show {task_id}` shows what it was given and what it wrote; API and command steps replay",
        )
    step = resolve_step(project, task_id)
    recorded_paths(project.layout, record, task_id, run_id)
    exchanges, recorded = _conversation(project.layout, task_id, run_id, record, view.meta)
    report = ReplayReport(task_id, run_id, identical=False, live=live)
    recorded_failure = view.meta.get("failure") if isinstance(view.meta.get("failure"), dict) else None
    if recorded_failure and not _judged_after(str(recorded_failure.get("kind")), view.meta):
        report.recorded_failure = f"{recorded_failure.get('kind')}: {recorded_failure.get('detail')}"
    if live and step.task.is_command:
        raise UsageError(f"{task_id} is a command step: it has no model to ask again",
                         hint=f"`agents replay {task_id}` runs its command again")
    had = set(record.get("env") or [])  # names only: a value is never recorded
    report.env_missing = [name for name in step.task.env if name in had and name not in os.environ]
    sandbox = Sandbox(project.layout.root, under_lock=False)
    try:
        files = sorted({p for p in (record.get("inputs") or {}) if not p.startswith("handoff:")})
        present = [f for f in files if (project.layout.root / f).is_file()]
        seen = sandbox.populate(present, step.task.outputs)
        _as_before(project.layout.root, view.commit, sandbox, record.get("inputs") or {}, seen, step.task.outputs)
        for path, digest in (record.get("inputs") or {}).items():
            if path.startswith("handoff:"):
                continue
            if seen.get(path) != digest:
                report.input_differences.append(f"{path}: recorded {digest[:19]}, now {(seen.get(path) or 'missing')[:19]}")
        if report.input_differences and not force:
            raise UsageError(
                f"the inputs of run {run_id} have changed since it ran: " + "; ".join(report.input_differences[:3]),
                hint="a replay onto different inputs is not a replay; pass --force to try anyway",
            )
        if step.task.is_command:
            from agentfiles.executors.base import Runtime, StepRequest

            request = StepRequest(
                task_id, run_id, step.task, step.intent, seen, list(step.task.outputs),
                env=_plain_env(step, run_id, present), timeout=step.task.timeout,
                isolation=_isolation(project, step.task),
            )
            result = CommandExecutor().execute(request, Runtime(sandbox.path))
            if not result.ok:
                report.failure = f"{result.failure_kind}: {result.failure_detail}"
        else:
            report.failure = _replay_model(project, step, sandbox, exchanges, report, record, view.meta, live)
        collected = sandbox.collect(step.task.outputs)
        wrong = output_failure(collected)
        if report.failure is None and wrong:
            report.failure = f"invalid_output: {wrong}"
        for path in sorted(set(recorded) | set(collected.outputs)):
            now = digest_bytes(collected.outputs[path]) if path in collected.outputs else None
            report.outputs[path] = {"recorded": recorded.get(path), "replayed": now}
        gone = [p for p in record.get("deleted") or [] if isinstance(p, str)]
        for path in sorted(set(gone) | set(collected.deleted)):  # a file deleted is an output too
            report.outputs[path] = {"recorded": DELETED if path in gone else None,
                                    "replayed": DELETED if path in collected.deleted else None}
        changed = [p for p, v in report.outputs.items() if v["recorded"] != v["replayed"] and DELETED not in v.values()]
        if changed:
            report.diffs = _diffs(project.layout, view.landed_by or view.commit, view.meta, exchanges, changed,
                                  collected.outputs)
        report.identical = (
            _kind(report.failure) == _kind(report.recorded_failure)
            and not report.request_differences
            and bool(recorded or gone or report.recorded_failure)
            and all(v["recorded"] == v["replayed"] for v in report.outputs.values())
        )
        return report
    finally:
        sandbox.cleanup()


def _as_before(root: Path, commit: str | None, sandbox: Sandbox, recorded: dict[str, str], seen: dict[str, str],
               outputs: list[str]) -> None:
    """Inputs the step itself changed or deleted since (a file it rewrote in place, one under its output
    globs) are taken as they were before its commit, when that is what it saw."""
    from agentfiles.storage.git import Git

    owned = OutputSet(outputs)
    changed = [p for p, d in recorded.items() if p in owned and seen.get(p) != d]
    if not changed or commit is None:
        return
    for path, data in zip(changed, Git(root).blobs([f"{commit}^:{p}" for p in changed])):
        if data is not None and digest_bytes(data) == recorded[path]:
            target = sandbox.path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            seen[path] = sandbox.inputs[path] = recorded[path]


def _judged_after(kind: str, meta: dict[str, Any]) -> bool:
    """Whether a recorded failure was decided after the step's work: by its verifier or checks, or (an
    `uncertain` run with a verdict) by a verifier panel that split."""
    return kind in JUDGED_AFTER or (kind == "uncertain" and bool(meta.get("verification")))


def _conversation(layout: Any, task_id: str, run_id: str, record: dict[str, Any],
                  meta: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """The folder of the run's doer conversation to replay, and the outputs it produced: the run's own,
    or, of a sampled run, the sample that went on (a person's choice when the samples disagreed)."""
    folder = run_folder(layout, run_id)
    samples = [s for s in record.get("samples") or [] if isinstance(s, dict) and isinstance(s.get("sample"), int)]
    if not samples or any(s.get("chosen") for s in samples):  # the chosen sample's exchanges are the run's own
        return folder, dict(record.get("outputs") or {})
    if not any(s.get("ok") for s in samples):  # every sample failed: the run failed as its first did
        return folder / "samples" / f"sample-{samples[0]['sample']}", {}
    landed = meta.get("outputs") if meta.get("status") == "done" else None
    chosen = next((s for s in samples if s.get("ok") and landed and s.get("outputs") == landed), None)
    if chosen is None:
        raise UsageError(
            f"run {run_id} of {task_id} is uncertain: its {len(samples)} samples disagree and none was chosen, so "
            "there is no one conversation to replay",
            hint=f"`agents review` shows them; `agents approve {task_id} --sample N` chooses one, which `agents "
                 f"replay {task_id}` then replays",
        )
    outputs = dict(chosen.get("outputs") or {})
    recorded_paths(layout, {"outputs": outputs}, task_id, run_id)
    return folder / "samples" / f"sample-{chosen['sample']}", outputs


def _kind(failure: str | None) -> str | None:
    return failure.split(":", 1)[0] if failure else None


def _diffs(layout: Any, commit: str | None, meta: dict[str, Any], folder: Path, paths: list[str],
           now: dict[str, bytes]) -> dict[str, str]:
    """Unified diffs from each recorded output (as committed: by the step, or by the approval that landed
    an uncertain step's; or as proposed by a step whose outputs did not land) to what the replay wrote."""
    from agentfiles.core.context import unified_diff
    from agentfiles.runner.review import produced_outputs
    from agentfiles.storage.git import Git

    before = produced_outputs(Git(layout.root), commit, meta, folder, paths)
    diffs = {}
    for path, old in zip(paths, before):
        diffs[path] = unified_diff((old or b"").decode("utf-8", "replace"), now.get(path, b"").decode("utf-8", "replace"),
                                   f"recorded/{path}", f"replayed/{path}")
    return diffs


def _isolation(project: Any, task: Any) -> Any:
    """A replayed command is confined as a run would confine it."""
    from agentfiles.executors.isolation import Isolation, choose_mode

    mode, _ = choose_mode(task.isolation or project.config.isolation)
    network = task.network if task.network is not None else project.config.network
    return Isolation(mode=mode, network=network, hide=(str(project.layout.root),))


def _plain_env(step: Any, run_id: str, files: list[str]) -> dict[str, str]:
    """The environment the step's commands had (runner/step.py), secrets scrubbed as then."""
    import os
    import sys

    from agentfiles.core.environment import step_environment

    env, _ = step_environment(dict(os.environ), step.task.env, {
        "AGENTS_TASK": step.step_id, "AGENTS_RUN": run_id, "AGENTS_INPUTS": "\n".join(files),
        "AGENTS_OUTPUTS": "\n".join(step.task.outputs), "AGENTS_PYTHON": sys.executable,
        **({"AGENTS_ITEM": step.item} if step.item else {}),
    })
    return env


def _replay_model(
    project: Any, step: Any, sandbox: Sandbox, folder: Path, report: ReplayReport, record: dict[str, Any],
    meta: dict[str, Any], live: bool = False,
) -> str | None:
    """The doer's conversation of the run's last attempt, with the brief it had: the verdict feedback,
    the discussion's positions and the router's decision are taken from the record, never asked again."""
    requests = recorded_turns(project.layout, folder, "requests")
    responses = recorded_turns(project.layout, folder, "responses")
    rel = project.layout.rel(folder)
    restore = f"restore the run record from git (`git checkout -- {rel}`), or replay another run (`--run RUN`)"
    if not requests:  # nothing to replay, or to compare the replay's requests with, is no replay at all
        raise UsageError(f"run {report.run} of {report.task}: the record holds no model requests to replay",
                         hint=f"{rel}/requests/ is missing or empty; {restore}")
    # Every request has its answer, but for the last of a run that failed: a call that got none. A rejected
    # or uncertain run's doer finished: its conversation is whole.
    answered = len(requests) - (1 if meta.get("status") == "failed" else 0)
    if not live and not answered <= len(responses) <= len(requests):
        raise UsageError(
            f"run {report.run} of {report.task}: the record is damaged: it holds {len(requests)} model "
            f"request{'s' if len(requests) != 1 else ''} and {len(responses)} answer{'s' if len(responses) != 1 else ''}",
            hint=f"{rel}/responses/ is missing or incomplete; {restore}")

    read = text_reader(sandbox.path)

    extra = [(str(h), str(t)) for h, t in record.get("feedback") or []]
    if record.get("discussion"):
        from agentfiles.runner.discussion import Discussion

        extra.append(Discussion(positions=record["discussion"]).moderator_section())
    routing = None
    if (meta.get("routing") or {}).get("method") == "model":
        from agentfiles.core.handoffs import Routing
        from agentfiles.core.schema import parse

        routing = parse(Routing, meta["routing"])
    # The brief names the files the output globs matched when the step started (its recorded inputs),
    # not those the repository has now: one it created is there, one it deleted is not.
    owned = OutputSet(step.task.outputs)
    started = sorted(p for p in record.get("inputs") or {} if p in owned)
    plan = agent_plan(project, step, read, extra, routing, owned=started)
    answers = iter(enumerate(responses))

    def call(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        try:
            number, answer = next(answers)
        except StopIteration:
            raise CallFailed("api", "the replay asked for more answers than were recorded") from None
        if number < len(requests) and _comparable(requests[number]) != _comparable(body):
            report.request_differences.append(f"request {number + 1} differs from the recorded one")
        return answer, []

    limits = Limits(max_turns=plan.max_turns, usd=None, context_tokens=plan.budget.context_tokens)
    outputs = list(step.task.outputs)
    isolation = _isolation(project, step.task)
    shell = None
    if "run" in plan.tools and isolation.mode == "os":  # the commands run again, as confined as they were
        env = _plain_env(step, str(record.get("run")), sorted(sandbox.inputs))
        shell = StepShell(sandbox.path, env, isolation, outputs)
    tools = DoerTools(plan.context, outputs, sandbox.path, limits, plan.tools, shell, FOLDER_REFUSAL)
    if live:
        outcome = _live_executor(project).converse(requests[0], tools, limits, plan.price)
    else:
        outcome = converse(plan.request, call, tools, limits, plan.price)
    if not outcome.ok:
        return f"{outcome.failure_kind}: {outcome.failure_detail}"
    return None


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """A request as a replay compares it: what a `run` call gave back is reduced to how its command ended
    (`exit code 1`), since a command run again reports other times and another sandbox folder."""
    runs = {block.get("id") for message in body.get("messages") or [] if message.get("role") == "assistant"
            and isinstance(message.get("content"), list) for block in message["content"]
            if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") == "run"}
    if not runs:
        return body
    messages = []
    for message in body["messages"]:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            content = [{**block, "content": _ending(block.get("content"))}
                       if isinstance(block, dict) and block.get("tool_use_id") in runs else block for block in content]
        messages.append({**message, "content": content})
    return {**body, "messages": messages}


def _ending(result: Any) -> Any:
    """`exit code N` or `timed out` of a run call's answer (anything else as it is)."""
    if not isinstance(result, str):
        return result
    first = result.partition("\n")[0]
    return first.partition(" in ")[0] if first.startswith("exit code ") else first.partition(" after ")[0]


def _live_executor(project: Any) -> Any:
    """The API executor for `replay --live`; exit 2 when no key or endpoint is configured."""
    import os

    from agentfiles.core.environment import api_configured
    from agentfiles.errors import PreconditionError

    config = project.config
    if not api_configured(config.api.base_url, config.api.provider, dict(os.environ)):
        raise PreconditionError(
            "replay --live sends the recorded context to the model, and no API is configured",
            hint="set ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL; without --live, replay needs no network",
        )
    from agentfiles.executors.anthropic import AnthropicExecutor

    return AnthropicExecutor(config.api)
