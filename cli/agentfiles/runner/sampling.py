"""Consistency sampling (`samples: K`): the doer of one attempt runs K times at once, each in a clean
sandbox and context of its own, under the step's budgets (so its usage is counted K times). Their
outputs are compared byte for byte, or (`compare: verifier`) grouped by a verifier judging which mean the
same; the output more than half of them agree on goes on to the checks and the verifier. Without such a
majority the step is `uncertain`. Every sample is kept in the run record under `samples/sample-N/`."""

from __future__ import annotations

import contextvars
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from agentfiles.core.consensus import (
    EquivalenceTools,
    Sampled,
    decide,
    equivalence_brief,
    equivalence_tool,
    group_outputs,
    merge_groups,
)
from agentfiles.core.conversation import Limits, turn_files
from agentfiles.core.fingerprint import digest_bytes
from agentfiles.core.usage import add_usage
from agentfiles.executors.base import Runtime, StepRequest, StepResult
from agentfiles.executors.sandbox import Sandbox
from agentfiles.runner.attempt import Attempt, RunContext

if TYPE_CHECKING:
    from agentfiles.core.handoffs import Routing
    from agentfiles.runner.resolve import ResolvedStep


class Doer(Protocol):
    """What sampling needs of the step runner (runner/step.py), which calls it: the run, its router and
    its doer, run once per sample."""

    ctx: RunContext

    def route(self, step: ResolvedStep, attempt: Attempt) -> Routing | None: ...

    def do(self, step: ResolvedStep, request: StepRequest, runtime: Runtime, attempt: Attempt,
           routing: Routing | None) -> None: ...

EQUIVALENCE_TOKENS = 2000
DELETED = b"\0(deleted)"  # how a deleted file is told apart from any content when samples are compared


def sample(
    runner: Doer, step: ResolvedStep, request: StepRequest, runtime: Runtime, attempt: Attempt,
    routing: Routing | None, files: list[str],
) -> None:
    """Run the doer `samples` times and make `attempt` the majority's (its outputs also put in the step's
    own sandbox, where checks and the verifier look), or `uncertain` without one."""
    ctx = runner.ctx
    task = step.task
    count = task.samples
    if not task.is_command and task.select and task.route == "model" and routing is None:
        routing = runner.route(step, attempt)  # one router for all the samples
        if routing is None:
            return
    extra = [Sandbox(ctx.project.layout.root) for _ in range(count - 1)]
    try:
        runtimes = [runtime]
        for sandbox in extra:
            sandbox.populate(files, task.outputs)
            runtimes.append(Runtime(sandbox.path, ctx.cancelled, ctx.processes))

        def one(where: Runtime) -> Attempt:
            done = dataclasses.replace(attempt, result=StepResult(ok=False), plan=None, outputs={}, usage={},
                                       extra={}, checks=[], deleted=[])
            runner.do(step, dataclasses.replace(request), where, done, routing)
            done.usage = add_usage(done.usage, done.result.usage)
            return done

        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="agents-sample") as pool:
            futures = [pool.submit(contextvars.copy_context().run, one, where) for where in runtimes]
            samples = [f.result() for f in futures]
    finally:
        for sandbox in extra:
            sandbox.cleanup()
    sampled, judged = _compare(runner, step, samples)
    _settle(attempt, samples, sampled, judged, runtime, step.step_id)


def _compare(runner: Doer, step: ResolvedStep, samples: list[Attempt]) -> tuple[Sampled, dict[str, Any]]:
    """Group the samples: byte for byte, then (`compare: verifier`) as a verifier judges their meaning."""
    groups = group_outputs([{**s.outputs, **dict.fromkeys(s.deleted, DELETED)} if s.result.ok else None
                            for s in samples])  # a file deleted is a difference too
    judged: dict[str, Any] = {}
    verifiers = runner.ctx.project.verifiers_of(step.task)
    if step.task.compare == "verifier" and verifiers and len(groups) > 1:
        judged = _equivalence(runner, step, verifiers[0], [samples[g[0] - 1].outputs for g in groups])
        if judged.get("groups"):
            groups = merge_groups(groups, judged["groups"])
    return decide(groups, len(samples)), judged


def _equivalence(runner: Doer, step: ResolvedStep, verifier: str, candidates: list[dict[str, bytes]]) -> dict[str, Any]:
    """Ask `verifier`, in a clean context, which candidates are the same in substance."""
    from agentfiles.runner.agent import role_plan

    ctx = runner.ctx
    project = ctx.project
    model, budget, price, max_turns = role_plan(project, verifier)
    texts = [{rel: data.decode("utf-8", "replace") for rel, data in c.items()} for c in candidates]
    body = {
        "model": model,
        "max_tokens": budget.output_tokens or EQUIVALENCE_TOKENS,
        "system": [{"type": "text", "text": project.roles[verifier].body.strip() or "You judge equivalence."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": equivalence_brief(
            step.task.title, step.intent, texts)}]}],
        "tools": [equivalence_tool(len(candidates))],
        "stream": True,
    }
    tools = EquivalenceTools(len(candidates))
    limits = Limits(max_turns=min(max_turns, 3), usd=budget.usd, context_tokens=budget.context_tokens)
    outcome = ctx.executor_for(step.task_id, True).converse(body, tools, limits, price, ctx.cancelled)
    found: dict[str, Any] = {"role": verifier, "model": model, "usage": outcome.usage,
                             "files": turn_files(outcome, "samples/equivalence/")}
    if outcome.ok:
        found.update(groups=tools.groups, reason=tools.reason)
    else:
        found["failure"] = f"{outcome.failure_kind}: {outcome.failure_detail}"
    return found


def _settle(attempt: Attempt, samples: list[Attempt], sampled: Sampled, judged: dict[str, Any], runtime: Runtime,
            step_id: str) -> None:
    """Make `attempt` what the samples came to, every sample kept in its record."""
    winner = sampled.majority[0] if sampled.majority else None
    usage: dict[str, Any] = {}
    files: dict[str, bytes] = dict(judged.pop("files", {}))
    summary = []
    for number, one in enumerate(samples, 1):
        usage = add_usage(usage, one.usage)
        where = "" if number == winner else f"samples/sample-{number}/"
        files.update({f"{where}{rel}": data for rel, data in one.result.files.items()})
        files.update({f"samples/sample-{number}/proposed/{rel}": data for rel, data in one.outputs.items()})
        summary.append({
            "sample": number,
            "ok": one.result.ok,
            "failure": None if one.result.ok else {"kind": one.result.failure_kind, "detail": one.result.failure_detail},
            "outputs": {rel: digest_bytes(data) for rel, data in sorted(one.outputs.items())},
            "deleted": sorted(one.deleted),
            "group": sampled.group_of(number),
            "chosen": number == winner,
            "usage": one.usage,
            "record": where,
        })
    usage = add_usage(usage, judged.get("usage") or {})
    attempt.extra["samples"] = summary
    if judged:
        attempt.extra["equivalence"] = judged
    described = sampled.describe(len(samples))
    if judged.get("failure"):  # the samples were compared byte for byte only
        described += f"; the verifier `{judged['role']}` could not judge which samples mean the same: {judged['failure']}"
    if winner is not None:
        chosen = samples[winner - 1]
        attempt.result, attempt.outputs, attempt.plan = chosen.result, chosen.outputs, chosen.plan
        attempt.deleted = list(chosen.deleted)
        for rel, data in chosen.outputs.items():  # the checks and the verifier look in the step's own sandbox
            (runtime.sandbox / rel).parent.mkdir(parents=True, exist_ok=True)
            (runtime.sandbox / rel).write_bytes(data)
        for rel in chosen.deleted:
            (runtime.sandbox / rel).unlink(missing_ok=True)
        attempt.result.sections = {**attempt.result.sections, "Samples": f"{described}; sample {winner} goes on."}
    elif not sampled.groups:  # every sample failed: the step failed as the first did
        first = samples[0]
        attempt.result, attempt.plan = first.result, first.plan
        attempt.result.failure_detail = f"{described}; sample 1: {first.result.failure_detail}"
    else:
        attempt.plan = next((s.plan for s in samples if s.plan is not None), None)
        attempt.result = StepResult(
            ok=False, failure_kind="uncertain", failure_detail=described, model=samples[0].result.model,
            summary="The samples disagree; every candidate is in the run record. `agents review` shows them, "
                    f"`agents approve {step_id} --sample N` lands one.",
        )
        attempt.outputs = {}
    attempt.result.files = files
    attempt.result.usage = usage  # every sample's and the judge's; the step adds it to the attempt's usage
