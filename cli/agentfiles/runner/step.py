"""One step, start to commit: hash and copy the declared inputs into a clean sandbox, prepare the request
(routing, discussion and the exact context of a model step), execute it (runner/execute.py), check what it
produced (secrets, `run:` checks, the verifier), and land it (runner/land.py). Nothing lands from a failed
step but its handoff and record."""

from __future__ import annotations

import os
import secrets
import sys
import time
from datetime import datetime, timezone

from agentfiles.core.handoffs import Routing
from agentfiles.core.environment import leaked_secrets, step_environment
from agentfiles.core.definition import current_definition
from agentfiles.core.usage import add_usage
from agentfiles.executors.base import Executor, Runtime, StepRequest, StepResult, api_retries, api_waits
from agentfiles.executors.sandbox import Sandbox
from agentfiles.runner.cache import body_sections, served_summary
from agentfiles.runner.attempt import Attempt, Finished, Retry, RunContext, StepCancelled, StepOutcome, Wait
from agentfiles.runner.checks import run_checks
from agentfiles.runner.execute import Execution, execute
from agentfiles.runner.land import land, now
from agentfiles.runner.resolve import (
    ResolvedStep,
    StepGone,
    input_files,
    input_hashes,
    resolve_step,
    upstream_runs,
)
from agentfiles.storage.files import text_reader
from agentfiles.storage.commits import identity
from agentfiles.storage.records import handoff_body

__all__ = ["Finished", "RunContext", "StepCancelled", "StepOutcome", "StepRunner", "new_run_id", "resolve_step"]


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class StepRunner:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.executes = ctx.execute or execute  # here, or on a cluster's worker (runner/cluster.py)

    def execute_request(self, request: StepRequest, runtime: Runtime, executor: Executor) -> Execution:
        """Carry the doer out; the sandbox then holds what it left, wherever it ran (the checks and the
        verifier read it): a file a cluster's worker deleted under the step's output globs is deleted here too."""
        execution = self.executes(request, runtime, executor)
        for rel in execution.deleted:
            target = runtime.sandbox / rel
            if rel in request.inputs and target.is_file() and not target.is_symlink():  # it started with them
                target.unlink()
        return execution

    def execute(self, step_id: str) -> Finished | StepOutcome:
        """Attempt the step; a verdict that fails re-runs the doer (up to `retries` times) in a fresh
        sandbox with the verdict as feedback. The last attempt is to land (`land`); earlier ones stay in
        its record. A step that could not start is reported as it is: nothing of it lands."""
        ctx = self.ctx
        project = ctx.project
        try:
            step = resolve_step(project, step_id)
        except StepGone as gone:  # a foreach item removed while earlier steps ran: this one cannot start
            return StepOutcome(step_id, new_run_id(), "failed", "missing_input", gone.args[1], duration_s=0.0)
        run_id = new_run_id()
        started, clock = now(), time.monotonic()
        if ctx.tripwire is not None:
            ctx.tripwire.start(step_id)
        calls = api_retries.set(lambda n, of, why: ctx.on_event("retry", Retry(step_id, n, of, why, "API call")))
        waits = api_waits.set(lambda why: ctx.on_event("wait", Wait(step_id, why)))
        try:
            verifiers = project.verifiers_of(step.task) if step.task.prose_criteria else []
            tries = 1 + (step.task.retries if verifiers else 0)
            feedback = self.extra_sections(step)
            earlier: list[Attempt] = []
            routing = None
            for number in range(1, tries + 1):
                began = time.monotonic()
                attempt = self._attempt(step, run_id, number, verifiers, feedback, routing)
                attempt.duration_s = round(time.monotonic() - began, 3)
                if number == 1 and _refused_before_start(attempt):
                    if ctx.tripwire is not None:
                        ctx.tripwire.abandon(step_id)
                    return StepOutcome(step_id, run_id, "failed", attempt.result.failure_kind,
                                       attempt.result.failure_detail, duration_s=round(time.monotonic() - clock, 3))
                if attempt.plan is not None:
                    routing = attempt.plan.routing  # a router model decides once per run
                if not attempt.rejected or number == tries:
                    break
                earlier.append(attempt)
                ctx.on_event("retry", Retry(step_id, number + 1, tries, attempt.result.failure_detail))
                assert attempt.verification is not None
                from agentfiles.runner.verify import feedback_section  # a model step's: not loaded by command runs

                feedback = [*feedback, feedback_section(attempt.verification, number)]
            return Finished(step, run_id, started, clock, attempt, earlier)
        except BaseException:
            if ctx.tripwire is not None:
                ctx.tripwire.abandon(step_id)
            raise
        finally:
            api_retries.reset(calls)
            api_waits.reset(waits)

    def land(self, batch: list[Finished]) -> list[StepOutcome]:
        """Commit executed steps, one commit each (runner/land.py); none lands when the run was stopped."""
        try:
            return land(self.ctx, batch)
        except BaseException:
            if self.ctx.tripwire is not None:
                for done in batch:
                    self.ctx.tripwire.abandon(done.task)
            raise

    def prepare_landing(self) -> None:
        """What the first landing would otherwise wait for, while the first steps run: who commits (asked of
        git), and the writer of handoffs (PyYAML and python-frontmatter: 18 ms to import)."""
        identity(self.ctx.git)
        import agentfiles.storage.yaml_text  # noqa: F401

    def run(self, step_id: str) -> StepOutcome:
        """Execute the step and land it at once."""
        done = self.execute(step_id)
        return done if isinstance(done, StepOutcome) else self.land([done])[0]

    def _attempt(
        self,
        step: ResolvedStep,
        run_id: str,
        number: int,
        verifiers: list[str],
        feedback: list[tuple[str, str]],
        routing: Routing | None,
    ) -> Attempt:
        ctx = self.ctx
        project = ctx.project
        task = step.task
        task_id = step.step_id
        isolation = ctx.isolation_for(task_id)
        sandbox = Sandbox(project.layout.root)
        try:
            files, missing = input_files(project, task)
            seen = sandbox.populate(files, task.outputs)
            env, withheld = step_environment(
                dict(os.environ),
                task.env,
                {
                    "AGENTS_TASK": task_id,
                    "AGENTS_RUN": run_id,
                    "AGENTS_INPUTS": "\n".join(files),
                    "AGENTS_OUTPUTS": "\n".join(task.outputs),
                    "AGENTS_PYTHON": sys.executable,
                    **({"AGENTS_ITEM": step.item} if step.item else {}),
                    **self._review_env(step),
                },
            )
            request = StepRequest(
                task_id=task_id, run_id=run_id, task=task, intent=step.intent, inputs=seen,
                outputs=list(task.outputs), env=env, timeout=task.timeout or project.config.timeout,
                isolation=isolation,
            )
            runtime = Runtime(sandbox.path, ctx.cancelled, ctx.processes)
            attempt = Attempt(number, StepResult(ok=False), None, {}, [], input_hashes(project, task, seen),
                              upstream_runs(project, task.needs), sorted(env), withheld, list(feedback), isolation)
            if missing:
                attempt.result = StepResult(
                    ok=False,
                    failure_kind="missing_input",
                    failure_detail="declared input missing: " + ", ".join(missing),
                    summary="Did not run: a declared input does not exist.",
                )
            elif number == 1 and not feedback and self._from_cache(step, attempt):
                pass  # the outputs of an earlier run with this definition and these inputs
            elif task.samples > 1:
                from agentfiles.runner.sampling import sample

                sample(self, step, request, runtime, attempt, routing, files)
            else:
                self.do(step, request, runtime, attempt, routing)
            attempt.usage = add_usage(attempt.usage, attempt.result.usage)
            if ctx.cancelled.is_set():
                raise StepCancelled(task_id)
            self._judge(step, verifiers, request, runtime, attempt, files)
            if ctx.cancelled.is_set():
                raise StepCancelled(task_id)
            return attempt
        finally:
            sandbox.cleanup()

    def do(self, step: ResolvedStep, request: StepRequest, runtime: Runtime, attempt: Attempt,
           routing: Routing | None) -> None:
        """The doer, once, in `runtime`'s sandbox: the command, or the model step."""
        if step.task.is_command:
            execution = self.execute_request(request, runtime, self.ctx.executor_for(step.task_id))
            attempt.result, attempt.outputs, attempt.deleted = execution.result, execution.outputs, execution.deleted
        else:
            self._model_step(step, request, runtime, attempt, routing)

    def _judge(
        self, step: ResolvedStep, verifiers: list[str], request: StepRequest, runtime: Runtime, attempt: Attempt,
        files: list[str],
    ) -> None:
        """What a step produced, judged in order: no secret in its outputs, its `run:` checks, its verifier
        (or panel of verifiers)."""
        task = step.task
        if attempt.result.ok:
            leaked = leaked_secrets(attempt.outputs, dict(os.environ), task.publish_secrets)
            if leaked:
                named = "; ".join(f"{rel} holds the value of {', '.join(names)}" for rel, names in sorted(leaked.items()))
                attempt.fail("secret_leak", f"{named} (list a variable under `publish_secrets:` to let outputs hold it)")
        if attempt.cached is not None:
            return  # its checks and its verifier passed these outputs of these inputs before
        if attempt.result.ok and task.checks:
            attempt.checks = run_checks(self.ctx, task, runtime.sandbox, files, attempt.outputs, request.env,
                                        request.isolation)
            failed = [c for c in attempt.checks if not c["ok"]]
            if failed:
                first = failed[0]
                why = "timed out" if first["timed_out"] else f"exited {first['exit_code']}"
                attempt.fail("check_failed", f"check `{first['run']}` {why}")
        if attempt.result.ok and verifiers:
            self._verify(step, verifiers, runtime, attempt)

    def _from_cache(self, step: ResolvedStep, attempt: Attempt) -> bool:
        """Take the outputs of an earlier successful run with this step's definition and input hashes, when
        the run cache is on for it (`--no-cache`, `--force` and `cache: false` turn it off); a step whose
        role routing chooses always runs."""
        ctx = self.ctx
        task = step.task
        if ctx.cache is None or task.select is not None:
            return False
        role = ctx.project.roles.get(task.role) if task.role else None
        said = [task.cache, role.model.agents.cache if role is not None else None, ctx.project.config.cache]
        if not next(value for value in said if value is not None):
            return False
        definition = current_definition(ctx.project, step.task_id, step.item)
        cached = ctx.cache.lookup(step.step_id, definition, attempt.input_hashes)
        if cached is None:
            return False
        summary, sections = body_sections(cached.body)
        summary = served_summary(summary, cached)
        attempt.cached = cached
        attempt.outputs = dict(cached.outputs)
        attempt.deleted = sorted(p for p in cached.meta.get("deleted") or [] if isinstance(p, str))  # again
        attempt.result = StepResult(ok=True, summary=summary, sections=sections, model=cached.meta.get("model"))
        if cached.meta.get("verification"):
            attempt.verification = cached.meta["verification"]
            attempt.result.sections.pop("Verification", None)
        return True

    def _model_step(
        self, step: ResolvedStep, request: StepRequest, runtime: Runtime, attempt: Attempt, routing: Routing | None
    ) -> None:
        """Route (`route: model`), discuss (`mode: discussion`), assemble the context from what the sandbox
        holds, refuse it when over budget, else execute."""
        ctx = self.ctx
        task = step.task

        read = text_reader(runtime.sandbox)
        if task.select and task.route == "model" and routing is None:
            routing = self.route(step, attempt)
            if routing is None:
                return
        extra = list(attempt.feedback)
        if task.mode == "discussion":
            from agentfiles.runner.discussion import discuss

            discussion = discuss(ctx.project, step, read, ctx.executor_for(step.task_id, True), ctx.cancelled)
            attempt.usage = add_usage(attempt.usage, discussion.usage)
            attempt.result.files.update(discussion.files)
            attempt.extra["discussion"] = discussion.positions
            if not discussion.ok:
                attempt.result = StepResult(
                    ok=False, failure_kind=discussion.failure_kind, failure_detail=f"discussion: {discussion.failure_detail}",
                    summary="The discussion did not complete; the moderator did not run.", files=attempt.result.files,
                )
                return
            extra = [*extra, discussion.moderator_section()]
        executor = ctx.executor_for(step.task_id)
        from agentfiles.core.conversation import CallFailed
        from agentfiles.runner.agent import agent_plan

        plan = agent_plan(ctx.project, step, read, extra, routing, purpose=_purpose(executor))
        attempt.plan = plan
        if plan.budget.precise and hasattr(executor, "count_tokens"):
            try:
                plan.tokens = executor.count_tokens(plan.request, ctx.cancelled)
            except CallFailed as exc:  # the endpoint failing, as it may for the step's own calls: the step fails
                attempt.result = StepResult(
                    ok=False, failure_kind=exc.kind, failure_detail=f"counting the context's tokens: {exc.detail}",
                    files=attempt.result.files, record={"retries": exc.attempts},
                    summary="Nothing was sent to the model: the API did not count the context's tokens.")
                return
        over = plan.over_budget()
        if over:
            attempt.result = StepResult(ok=False, failure_kind="budget", failure_detail=over, files=attempt.result.files,
                                        summary="Nothing was sent to the model: the context is over its budget.")
            return
        request.context = plan.context
        request.first_request = plan.request
        request.model = plan.model
        request.role = plan.role
        request.budget = plan.budget
        request.price = plan.price
        request.max_turns = plan.max_turns
        request.tools = plan.tools
        execution = self.execute_request(request, runtime, executor)
        execution.result.files = {**attempt.result.files, **execution.result.files}
        attempt.result, attempt.outputs, attempt.deleted = execution.result, execution.outputs, execution.deleted

    def route(self, step: ResolvedStep, attempt: Attempt) -> Routing | None:
        """Ask a router model which role does a `route: model` task; None (and a failed attempt) if it
        gave no valid answer."""
        from agentfiles.core.conversation import Limits, RouterTools, turn_files
        from agentfiles.runner.agent import router_request

        ctx = self.ctx
        body, candidates = router_request(ctx.project, step)
        tools = RouterTools([c.role for c in candidates])
        limits = Limits(max_turns=3)
        price = ctx.project.config.price(body["model"])
        outcome = ctx.executor_for(step.task_id, True).converse(body, tools, limits, price, ctx.cancelled)
        attempt.usage = add_usage(attempt.usage, outcome.usage)
        attempt.result.files.update(turn_files(outcome, "router/"))
        if not outcome.ok:
            attempt.result = StepResult(ok=False, failure_kind=outcome.failure_kind,
                                        failure_detail=f"the router: {outcome.failure_detail}",
                                        summary="The router model gave no role; nothing else ran.", files=attempt.result.files)
            return None
        return Routing(role=tools.choice["role"], reason=tools.choice["reason"], method="model",
                       candidates=list(candidates))

    def _verify(self, step: ResolvedStep, verifiers: list[str], runtime: Runtime, attempt: Attempt) -> None:
        from agentfiles.runner.panel import judge
        from agentfiles.runner.verify import rejection_detail

        ctx = self.ctx
        result = attempt.result

        read = text_reader(runtime.sandbox)
        checked = judge(
            ctx.project, step, verifiers, read, attempt.outputs, handoff_body(result.summary, result.sections),
            ctx.executor_for(step.task_id, True), ctx.cancelled, attempt.deleted,
        )
        attempt.usage = add_usage(attempt.usage, checked.usage)
        result.files.update(checked.files)
        attempt.extra["panel" if len(verifiers) > 1 else "verifier"] = checked.record
        attempt.verification = checked.verification
        if not checked.ok:
            result.ok, result.failure_kind, result.failure_detail = False, checked.failure_kind, checked.failure_detail
        elif checked.uncertain:  # the panel split: no retry can settle that, a person does
            result.ok, result.failure_kind, result.failure_detail = False, "uncertain", checked.detail
        elif not checked.passed:
            assert checked.verification is not None
            result.ok, result.failure_kind = False, "rejected"
            result.failure_detail = rejection_detail(checked.verification)

    def _review_env(self, step: ResolvedStep) -> dict[str, str]:
        """AGENTS_REVIEW_REASON: why a person rejected the last run (what a command step gets of it)."""
        entry = self.ctx.project.handoffs.get(step.step_id)
        review = entry.model.review if entry is not None else None
        if review is None or review.state != "rejected":
            return {}
        return {"AGENTS_REVIEW_REASON": review.reason or "(no reason given)"}

    def extra_sections(self, step: ResolvedStep) -> list[tuple[str, str]]:
        """Further sections of a model step's brief: why its last run was turned down, by a person in
        review (with their reason) or by its verifier (with each criterion's verdict and evidence)."""
        entry = self.ctx.project.handoffs.get(step.step_id)
        if entry is None:
            return []
        last = entry.model
        review = last.review
        if review is not None and review.state == "rejected":
            by = f" by {review.by}" if review.by else ""
            text = (f"A person reviewing run {last.run} of this step{by} rejected it"
                    + (f" with this reason:\n\n{review.reason}" if review.reason else " without giving a reason.")
                    + "\n\nProduce the outputs again so that the reason no longer applies.")
            return [("Review of the previous run", text)]
        if last.status == "rejected" and last.verification is not None:
            from agentfiles.runner.verify import feedback_section

            return [feedback_section(last.verification.dump(), 0, run=last.run)]
        return []


def _refused_before_start(attempt: Attempt) -> bool:
    """A step that could not start (a declared input missing, a context over its budget) before anything
    was spent: it is reported, and nothing is committed, so the task stays as it was."""
    return (not attempt.result.ok and attempt.result.failure_kind in ("missing_input", "budget")
            and not attempt.usage and not attempt.result.files)


def _purpose(executor: Executor) -> str:
    return "claude-code" if executor.name == "claude-code" else "do"
