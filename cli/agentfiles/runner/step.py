"""One step, start to commit: hash and copy the declared inputs into a clean sandbox, execute, collect the
declared outputs (refusing anything else), run the `run:` checks in a throwaway worktree, then apply the
outputs, write the handoff and run record, and commit them as one commit. Nothing lands from a failed step
but its handoff and record."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from agentfiles.core.conversation import add_usage
from agentfiles.core.environment import redact, secret_values, step_environment
from agentfiles.core.fingerprint import digest_bytes, expand_path_input, handoff_digest
from agentfiles.core.models import Handoff, Routing
from agentfiles.core.paths import has_glob
from agentfiles.core.project import Entry
from agentfiles.core.state import current_definition
from agentfiles.executors.base import Executor, StepRequest, StepResult
from agentfiles.executors.command import run_shell
from agentfiles.executors.sandbox import Sandbox
from agentfiles.runner.agent import AgentPlan, agent_plan
from agentfiles.storage.files import text_reader
from agentfiles.storage.journal import Journal
from agentfiles.runner.verify import feedback_section
from agentfiles.storage.records import PROPOSED_CAP, handoff_body, handoff_file, record_files

if TYPE_CHECKING:
    from agentfiles.core.models import Task
    from agentfiles.core.project import Project
    from agentfiles.storage.git import Git

DEFAULT_CHECK_TIMEOUT_S = 600.0


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StepOutcome:
    task: str
    run_id: str
    status: str  # done | failed | rejected
    failure_kind: str | None = None
    failure_detail: str = ""
    commit: str | None = None
    duration_s: float = 0.0
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "done"

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "run": self.run_id,
            "status": self.status,
            "failure": {"kind": self.failure_kind, "detail": self.failure_detail} if self.failure_kind else None,
            "commit": self.commit,
            "duration_s": self.duration_s,
            "changed": self.changed,
        }


@dataclass
class RunContext:
    """What the steps of one `agents run` share."""

    project: Project
    git: Git
    executor_for: Callable[..., Executor]  # (step id, model=False): model=True, the model executor
    commit_lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: threading.Event = field(default_factory=threading.Event)
    processes: Any = None  # a ProcessRegistry

    @property
    def root(self):  # type: ignore[no-untyped-def]
        return self.project.layout.root


@dataclass
class ResolvedStep:
    """A step as it runs: a plain task, or one item of a foreach task with its placeholders filled in."""

    step_id: str
    task_id: str
    item: str | None
    task: Task
    intent: str


def resolve_step(project: Project, step_id: str) -> ResolvedStep:
    from agentfiles.core.foreach import family_of, item_slug, item_task, items_of, substitute

    task_id = family_of(step_id)
    entry = project.tasks[task_id]
    if step_id == task_id:
        return ResolvedStep(step_id, task_id, None, entry.model, entry.body)
    slug = step_id.split("@", 1)[1]
    items = items_of(project.layout.root, entry.model.foreach or "")
    item = next((i for i in items if item_slug(i) == slug), None)
    if item is None:
        raise KeyError(step_id)
    return ResolvedStep(step_id, task_id, item, item_task(entry.model, item), substitute(entry.body, item))


def upstream_runs(project: Project, needs: list[str]) -> dict[str, str]:
    """The run of each needed task as a step records it (a foreach family's stand-in for its items)."""
    from agentfiles.core.foreach import family_run, items_of, step_id

    runs: dict[str, str] = {}
    for need in needs:
        entry = project.tasks.get(need)
        if entry is not None and entry.model.foreach:
            items = [step_id(need, i) for i in items_of(project.layout.root, entry.model.foreach)]
            found = [project.handoffs[i].model.run for i in items if i in project.handoffs]
            if len(found) == len(items):
                runs[need] = family_run(found)
        elif need in project.handoffs:
            runs[need] = project.handoffs[need].model.run
    return runs


class StepCancelled(Exception):
    """The run was interrupted before this step committed anything."""


@dataclass
class Attempt:
    """One go at a step: the doer (or command), its collected outputs, its checks and its verdict."""

    number: int
    result: StepResult
    plan: AgentPlan | None
    outputs: dict[str, bytes]
    checks: list[dict[str, Any]]
    input_hashes: dict[str, str]
    upstream: dict[str, str]
    env_names: list[str]
    withheld: list[str]
    feedback: list[tuple[str, str]]
    verification: dict[str, Any] | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # the doer's, the verifier's, a discussion's
    extra: dict[str, Any] = field(default_factory=dict)  # more run-record facts (verifier, discussion, router)

    @property
    def rejected(self) -> bool:
        return self.result.failure_kind == "rejected"


class StepRunner:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx

    def run(self, step_id: str) -> StepOutcome:
        """Attempt the step; a verdict that fails re-runs the doer (up to `retries` times) in a fresh
        sandbox with the verdict as feedback. The last attempt lands; earlier ones stay in its record."""
        project = self.ctx.project
        step = resolve_step(project, step_id)
        run_id = new_run_id()
        started, clock = _now(), time.monotonic()
        verifier = project.verifier_of(step.task) if step.task.prose_criteria else None
        tries = 1 + (step.task.retries if verifier else 0)
        feedback = self.extra_sections(step)
        earlier: list[Attempt] = []
        routing = None
        for number in range(1, tries + 1):
            attempt = self._attempt(step, run_id, number, verifier, feedback, routing)
            if attempt.plan is not None:
                routing = attempt.plan.routing  # a router model decides once per run
            if not attempt.rejected or number == tries:
                break
            earlier.append(attempt)
            assert attempt.verification is not None
            feedback = [*feedback, feedback_section(attempt.verification, number)]
        return self._land(step, run_id, started, clock, attempt, earlier)

    def _attempt(
        self,
        step: ResolvedStep,
        run_id: str,
        number: int,
        verifier: str | None,
        feedback: list[tuple[str, str]],
        routing: Routing | None,
    ) -> Attempt:
        ctx = self.ctx
        project = ctx.project
        task = step.task
        task_id = step.step_id
        sandbox = Sandbox(project.layout.root)
        try:
            files, missing = self._input_files(task)
            seen = sandbox.populate(files, task.outputs)
            input_hashes = self._input_hashes(task, seen)
            upstream = upstream_runs(project, task.needs)
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
                task_id=task_id,
                run_id=run_id,
                task=task,
                intent=step.intent,
                sandbox=sandbox.path,
                inputs=files,
                outputs=list(task.outputs),
                env=env,
                timeout=task.timeout or project.config.timeout,
                cancel=ctx.cancelled,
                track=ctx.processes,
            )
            attempt = Attempt(number, StepResult(ok=False), None, {}, [], input_hashes, upstream, sorted(env),
                              withheld, list(feedback))
            if missing:
                attempt.result = StepResult(
                    ok=False,
                    failure_kind="missing_input",
                    failure_detail="declared input missing: " + ", ".join(missing),
                    summary="Did not run: a declared input does not exist.",
                )
            elif task.is_command:
                attempt.result = ctx.executor_for(step.task_id).execute(request)
            else:
                self._model_step(step, sandbox, request, attempt, routing)
            result = attempt.result
            attempt.usage = add_usage(attempt.usage, result.usage)
            if ctx.cancelled.is_set():
                raise StepCancelled(task_id)
            collected = sandbox.collect(task.outputs)
            attempt.outputs = collected.outputs
            if result.ok and collected.undeclared:
                result.ok = False
                result.failure_kind = "invalid_output"
                result.failure_detail = "wrote undeclared files: " + ", ".join(collected.undeclared)
            elif result.ok and collected.missing:
                result.ok = False
                result.failure_kind = "invalid_output"
                result.failure_detail = "declared output missing: " + ", ".join(collected.missing)
            if result.ok and task.checks:
                attempt.checks = self._run_checks(task, sandbox, files, collected.outputs, env)
                failed = [c for c in attempt.checks if not c["ok"]]
                if failed:
                    result.ok = False
                    result.failure_kind = "check_failed"
                    first = failed[0]
                    why = "timed out" if first["timed_out"] else f"exited {first['exit_code']}"
                    result.failure_detail = f"check `{first['run']}` {why}"
            if result.ok and verifier:
                self._verify(step, verifier, sandbox, attempt)
            if ctx.cancelled.is_set():
                raise StepCancelled(task_id)
            return attempt
        finally:
            sandbox.cleanup()

    def _model_step(
        self, step: ResolvedStep, sandbox: Sandbox, request: StepRequest, attempt: Attempt, routing: Routing | None
    ) -> None:
        """Route (`route: model`), discuss (`mode: discussion`), assemble the context from what the sandbox
        holds, refuse it when over budget, else execute."""
        ctx = self.ctx
        task = step.task

        read = text_reader(sandbox.path)
        if task.select and task.route == "model" and routing is None:
            routing = self._route(step, attempt)
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
        plan = agent_plan(ctx.project, step, read, extra, routing, purpose=_purpose(executor))
        attempt.plan = plan
        if plan.budget.precise and hasattr(executor, "count_tokens"):
            plan.tokens = executor.count_tokens(plan.request)
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
        done = executor.execute(request)
        done.files = {**attempt.result.files, **done.files}
        attempt.result = done

    def _route(self, step: ResolvedStep, attempt: Attempt) -> Routing | None:
        """Ask a router model which role does a `route: model` task; None (and a failed attempt) if it
        gave no valid answer."""
        from agentfiles.core.conversation import Limits, RouterTools, turn_files
        from agentfiles.core.models import Candidate
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
                       candidates=[Candidate.model_validate(c.model_dump()) for c in candidates])

    def _verify(self, step: ResolvedStep, verifier: str, sandbox: Sandbox, attempt: Attempt) -> None:
        from agentfiles.runner.verify import rejection_detail, verify

        ctx = self.ctx
        result = attempt.result

        read = text_reader(sandbox.path)
        checked = verify(
            ctx.project, step, verifier, read, attempt.outputs, handoff_body(result.summary, result.sections),
            ctx.executor_for(step.task_id, True), ctx.cancelled,
        )
        attempt.usage = add_usage(attempt.usage, checked.usage)
        result.files.update(checked.files)
        attempt.extra["verifier"] = checked.record
        attempt.verification = checked.verification
        if not checked.ok:
            result.ok, result.failure_kind, result.failure_detail = False, checked.failure_kind, checked.failure_detail
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
        """Further sections of a model step's brief: the reason a person rejected its last run."""
        entry = self.ctx.project.handoffs.get(step.step_id)
        review = entry.model.review if entry is not None else None
        if review is None or review.state != "rejected":
            return []
        by = f" by {review.by}" if review.by else ""
        text = (f"A person reviewing run {entry.model.run} of this step{by} rejected it"
                + (f" with this reason:\n\n{review.reason}" if review.reason else " without giving a reason.")
                + "\n\nProduce the outputs again so that the reason no longer applies.")
        return [("Review of the previous run", text)]

    # ------------------------------------------------------------------------------------------ inputs

    def _input_files(self, task: Task) -> tuple[list[str], list[str]]:
        """The repo files a step gets (expanded, sorted, handoff files included) and missing literal inputs."""
        project = self.ctx.project
        root = project.layout.root
        files: list[str] = []
        missing: list[str] = []
        for spec in task.inputs:
            if spec.handoff is not None:
                rel = project.layout.rel(project.layout.handoff_file(spec.handoff))
                if (root / rel).is_file():
                    files.append(rel)
                else:
                    missing.append(f"handoff:{spec.handoff}")
                continue
            assert spec.path is not None
            found = expand_path_input(root, spec.path)
            if not found and not has_glob(spec.path):
                missing.append(spec.path)
            files.extend(found)
        return sorted(set(files)), missing

    def _input_hashes(self, task: Task, seen: dict[str, str]) -> dict[str, str]:
        """As a handoff records them: each path input file, and `handoff:x` as the digest of x's body."""
        project = self.ctx.project
        hashes: dict[str, str] = {}
        handoff_files = {}
        for spec in task.inputs:
            if spec.handoff is not None:
                entry = project.handoffs.get(spec.handoff)
                if entry is not None:
                    hashes[spec.key] = handoff_digest(entry.body)
                    handoff_files[project.layout.rel(project.layout.handoff_file(spec.handoff))] = True
        for rel, digest in seen.items():
            if rel not in handoff_files:
                hashes[rel] = digest
        return dict(sorted(hashes.items()))

    # ------------------------------------------------------------------------------------------ checks

    def _run_checks(
        self, task, sandbox: Sandbox, files: list[str], outputs: dict[str, bytes], env: dict[str, str]  # type: ignore[no-untyped-def]
    ) -> list[dict[str, Any]]:
        """Run each `run:` criterion against HEAD with the step's inputs and outputs laid over it."""
        results: list[dict[str, Any]] = []
        with self.ctx.git.worktree() as tree:
            for rel in files:
                target = tree / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(sandbox.path / rel, target)
            for rel, data in outputs.items():
                target = tree / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            for check in task.checks:
                timeout = check.timeout or task.timeout or DEFAULT_CHECK_TIMEOUT_S
                code, out, err, seconds, timed_out = run_shell(
                    check.run, str(tree), env, timeout, self.ctx.cancelled, self.ctx.processes
                )
                results.append(
                    {
                        "run": check.run,
                        "ok": code == 0 and not timed_out,
                        "exit_code": code,
                        "timed_out": timed_out,
                        "duration_s": round(seconds, 3),
                        "output": (out + err).decode("utf-8", "replace")[-4000:],
                    }
                )
                if not results[-1]["ok"]:
                    break
        return results

    # ------------------------------------------------------------------------------------------ landing

    def _land(
        self,
        step: ResolvedStep,
        run_id: str,
        started: str,
        clock: float,
        attempt: Attempt,
        earlier: list[Attempt],
    ) -> StepOutcome:
        ctx = self.ctx
        project = ctx.project
        layout = project.layout
        task_id = step.step_id
        task = step.task
        result, plan, outputs, checks = attempt.result, attempt.plan, attempt.outputs, attempt.checks
        secrets = secret_values(dict(os.environ))
        result.summary, result.failure_detail = _redacted(result.summary, secrets), _redacted(result.failure_detail, secrets)
        result.sections = {title: _redacted(text, secrets) for title, text in result.sections.items()}
        status = "done" if result.ok else ("rejected" if attempt.rejected else "failed")
        duration = round(time.monotonic() - clock, 3)
        usage = attempt.usage
        for before in earlier:
            usage = add_usage(usage, before.usage)
        output_hashes = {rel: digest_bytes(data) for rel, data in sorted(outputs.items())}
        work = [f"- Wrote `{rel}` ({len(outputs[rel])} bytes)." for rel in sorted(outputs)] if result.ok else []
        work += [f"- Check `{c['run']}`: {'passed' if c['ok'] else 'failed'}." for c in checks]
        sections = dict(result.sections)
        if work and "Work completed" not in sections:
            sections["Work completed"] = "\n".join(work)
        if attempt.verification:
            sections["Verification"] = _verification_text(attempt.verification, attempt.number)
        summary = result.summary
        if not result.ok:
            why = "Rejected" if attempt.rejected else f"Failed ({result.failure_kind})"
            summary = f"{why}: {result.failure_detail}\n\n{summary}".strip()
        body = handoff_body(summary, sections)
        meta: dict[str, Any] = {
            "schema": 1,
            "task": task_id,
            "item": step.item,
            "run": run_id,
            "status": status,
            "role": plan.role if plan else (None if task.is_command else task.role),
            "executor": "command" if task.is_command else ctx.executor_for(step.task_id).name,
            "model": plan.model if plan else None,
            "definition": current_definition(project, step.task_id, step.item, plan.role if plan else None),
            "inputs": attempt.input_hashes,
            "outputs": output_hashes if result.ok else {},
            "upstream": attempt.upstream,
            "usage": {**_usage_fields(usage), "duration_s": duration},
        }
        if attempt.verification:
            meta["verification"] = attempt.verification
        if plan is not None and plan.routing is not None:
            meta["routing"] = plan.routing.model_dump(mode="json")
        if not result.ok:
            meta["failure"] = {"kind": result.failure_kind or "crash", "detail": result.failure_detail}
        meta["started"], meta["finished"] = started, _now()
        meta = {k: v for k, v in meta.items() if v is not None}
        record = {
            "schema": 1,
            "task": task_id,
            "run": run_id,
            "status": status,
            "executor": meta["executor"],
            **result.record,
            **attempt.extra,
            "attempt": attempt.number,
            "feedback": [list(section) for section in attempt.feedback],
            "env": attempt.env_names,
            "env_withheld": attempt.withheld,
            "exit_code": result.exit_code,
            "timeout_s": task.timeout or project.config.timeout,
            "inputs": attempt.input_hashes,
            "outputs": output_hashes,
            "checks": checks,
            "context_tokens": plan.tokens if plan else None,
            "budget": plan.budget.model_dump(exclude_none=True) if plan else None,
            "usage": meta["usage"],
            "failure": meta.get("failure"),
            "earlier_attempts": [_attempt_summary(a) for a in earlier],
            "started": started,
            "finished": meta["finished"],
            "duration_s": duration,
        }
        base = f"{layout.rel(layout.runs)}/{run_id}"
        files = record_files(layout, run_id, record, result.stdout, result.stderr, {} if result.ok else outputs)
        for rel, data in result.files.items():
            files[f"{base}/{rel}"] = data
        for before in earlier:  # each earlier attempt's exchanges and proposed outputs, for review
            prefix = f"{base}/attempt-{before.number}"
            for rel, data in before.result.files.items():
                files[f"{prefix}/{rel}"] = data
            for rel, data in before.outputs.items():
                if len(data) <= PROPOSED_CAP:
                    files[f"{prefix}/proposed/{rel}"] = data
        handoff_rel = layout.rel(layout.handoff_file(task_id))
        files[handoff_rel] = handoff_file(meta, body)
        files = {rel: redact(data, secrets) for rel, data in files.items()}  # records and handoff, not outputs
        changed: list[str] = []
        if result.ok:
            for rel, data in outputs.items():
                current = layout.root / rel
                if not current.is_file() or current.read_bytes() != data:
                    files[rel] = data
                    changed.append(rel)
        message = _commit_message(task_id, task.title, run_id, status, meta, summary)
        with ctx.commit_lock:
            if ctx.cancelled.is_set():
                raise StepCancelled(task_id)
            journal = Journal(layout.agents / "tmp" / "journal", layout.root, run_id)
            try:
                journal.apply(files)
                commit = ctx.git.commit_paths(sorted(files), message)
            except BaseException:
                journal.undo()  # the commit did not land: nothing of the step may stay behind
                raise
            journal.close()
            handoff = Handoff.model_validate(meta)
            project.handoffs[task_id] = Entry(model=handoff, body=body, path=handoff_rel)
        return StepOutcome(
            task=task_id,
            run_id=run_id,
            status=status,
            failure_kind=result.failure_kind if not result.ok else None,
            failure_detail=result.failure_detail,
            commit=commit,
            duration_s=duration,
            changed=sorted(changed),
        )


def _redacted(text: str, secrets: list[bytes]) -> str:
    return redact(text.encode("utf-8"), secrets).decode("utf-8") if secrets and text else text


def _purpose(executor: Executor) -> str:
    return "claude-code" if executor.name == "claude-code" else "do"


USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd", "turns")


def _usage_fields(usage: dict[str, Any]) -> dict[str, Any]:
    return {k: usage[k] for k in USAGE_FIELDS if k in usage}


def _verification_text(verification: dict[str, Any], attempt: int) -> str:
    verdict = "passed" if verification.get("verdict") == "pass" else "failed"
    lines = [f"The verifier `{verification.get('verifier')}` {verdict} attempt {attempt}:"]
    for check in verification.get("checks", []):
        lines.append(f"- {check['verdict'].upper()}: {check['criterion']} ({check.get('evidence') or 'no evidence given'})")
    return "\n".join(lines)


def _attempt_summary(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "failure": {"kind": attempt.result.failure_kind, "detail": attempt.result.failure_detail},
        "verification": attempt.verification,
        "usage": _usage_fields(attempt.usage),
        "outputs": {rel: digest_bytes(data) for rel, data in sorted(attempt.outputs.items())},
        "record": f"attempt-{attempt.number}/",
    }


def _commit_message(task_id: str, title: str, run_id: str, status: str, meta: dict[str, Any], summary: str) -> str:
    first = summary.strip().splitlines()[0] if summary.strip() else ""
    lines = [f"agents({task_id}): {title}", ""]
    if first:
        lines += [first, ""]
    lines += [
        f"Agents-Task: {task_id}",
        f"Agents-Run: {run_id}",
        f"Agents-Status: {status}",
        f"Agents-Role: {meta.get('role') or 'none'}",
        f"Agents-Model: {meta.get('model') or 'none'}",
        f"Agents-Executor: {meta['executor']}",
    ]
    return "\n".join(lines) + "\n"
