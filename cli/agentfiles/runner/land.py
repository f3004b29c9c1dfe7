"""Landing steps: each one's handoff and run record rendered (secrets redacted), its outputs applied to the
work tree, and all of it committed as one commit per step, under the run's commit lock; the steps that
finished while others landed land together. Before anything is written the tripwire is asked whether the
repository changed in a way no step declared; if so the step fails and nothing of its outputs lands."""

from __future__ import annotations

import os
import time
from dataclasses import field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from agentfiles.core.definition import definition_of
from agentfiles.core.environment import redact, secret_values
from agentfiles.core.fingerprint import digest_bytes
from agentfiles.core.globs import OutputSet
from agentfiles.core.handoffs import Handoff
from agentfiles.core.project import Entry
from agentfiles.core.records import record
from agentfiles.core.usage import add_usage
from agentfiles.core.schema import parse
from agentfiles.errors import PreconditionError
from agentfiles.runner.attempt import Attempt, Finished, RunContext, StepCancelled, StepOutcome
from agentfiles.runner.globs import to_delete
from agentfiles.runner.resolve import ResolvedStep
from agentfiles.runner.tripwire import steps_named
from agentfiles.storage.commits import HeadMoved, commit_batch
from agentfiles.storage.journal import Journal
from agentfiles.storage.records import PROPOSED_CAP, handoff_body, handoff_file, record_files
from agentfiles.storage.turns import compact

if TYPE_CHECKING:
    from agentfiles.runner.cache import CachedRun


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@record
class Landing:
    """A step rendered for the repository: every file to write (outputs only when it succeeded) and its
    commit message."""

    status: str
    meta: dict[str, Any]
    body: str
    files: dict[str, bytes]
    changed: list[str]
    message: str
    duration: float
    deleted: list[str] = field(default_factory=list)  # files it deleted, removed from the work tree


def land(ctx: RunContext, batch: list[Finished]) -> list[StepOutcome]:
    """Commit the steps of `batch`, one commit each and in order, in one go under the commit lock: each
    after the tripwire's check, all their files applied through their journals, then the commits made
    together (storage/commits.py `commit_batch`), so that landing many steps costs about what one does."""
    layout = ctx.project.layout
    with ctx.commit_lock:
        if ctx.cancelled.is_set():
            raise StepCancelled(batch[0].task)
        landings = []
        for done in batch:
            step = done.step
            if ctx.tripwire is not None:
                ctx.tripwire.guard()  # git's own files changed: the run stops before this step's commit
                escaped = ctx.tripwire.finish(step.step_id, OutputSet(step.task.outputs))
                if escaped:  # reported whatever else happened to the step: it is the gravest
                    result = done.attempt.result
                    result.ok, result.failure_kind = False, "sandbox_escape"
                    result.failure_detail = ("the repository changed outside the step's declared outputs while it "
                                             "ran: " + ", ".join(escaped[:20]) + (" ..." if len(escaped) > 20 else ""))
            landings.append(render(ctx, step, done.run_id, done.started, done.clock, done.attempt, done.earlier))
        journals = [Journal(layout.agents / "tmp" / "journal", layout.root, done.run_id) for done in batch]
        ctx.git.landed = None
        applied: list[Journal] = []
        try:
            for journal, landing in zip(journals, landings):
                journal.apply(landing.files, landing.deleted)
                applied.append(journal)
            commits = commit_batch(ctx.git, [(sorted([*landing.files, *landing.deleted]), landing.message)
                                             for landing in landings])
        except BaseException as exc:
            if ctx.git.landed is None:
                for journal in applied:
                    journal.undo()  # the commits did not land: nothing of the steps may stay behind
            # else they landed and their files stay; the journals tell the next run to sync the index
            if isinstance(exc, HeadMoved):
                raise _head_moved(ctx, [done.step.step_id for done in batch], exc) from None
            raise
        outcomes = []
        for done, landing, journal, commit in zip(batch, landings, journals, commits):
            step = done.step
            if ctx.git.index_synced:
                journal.close()
            else:  # the commit stands, its files are in the work tree; the journal has the next run sync the index
                ctx.index_behind.append(step.step_id)
            if ctx.tripwire is not None:
                ctx.tripwire.landed({**landing.files, **dict.fromkeys(landing.deleted, b"")})  # gone: forgotten
            handoff_rel = layout.rel(layout.handoff_file(step.step_id))
            ctx.project.handoffs[step.step_id] = Entry(model=parse(Handoff, landing.meta), body=landing.body,
                                                       path=handoff_rel)
            result = done.attempt.result
            outcomes.append(StepOutcome(
                task=step.step_id,
                run_id=done.run_id,
                status=landing.status,
                failure_kind=result.failure_kind if not result.ok else None,
                failure_detail=result.failure_detail,
                commit=commit,
                duration_s=round(time.monotonic() - done.clock, 3),  # start to commit; the handoff's stops earlier
                changed=landing.changed,
                cached_from=done.attempt.cached.run if done.attempt.cached is not None else None,
                cached_approval=(done.attempt.cached.approval or {}).get("commit") if done.attempt.cached else None,
                cached_approver=(done.attempt.cached.approval or {}).get("by") if done.attempt.cached else None,
            ))
    return outcomes


def _head_moved(ctx: RunContext, landing: list[str], moved: HeadMoved) -> PreconditionError:
    """HEAD moved while steps ran, and not by agents: a step with folder isolation can reach .git and commit.
    Nothing of the steps lands (their commits would be built on that commit) and the run stops."""
    ctx.cancelled.set()
    steps = ctx.tripwire.suspects(*landing) if ctx.tripwire is not None else sorted(landing)
    before, after = (moved.before or "")[:10], (moved.after or "")[:10]
    return PreconditionError(
        f"while {steps_named(steps)} ran, HEAD{f' ({moved.ref})' if moved.ref else ''} moved from {before or 'no commit'} "
        f"to {after or 'no commit'}, not by agents: nothing of the step{'s' if len(steps) > 1 else ''} landed and the "
        "run stopped",
        hint=f"see what moved it (`git reflog -5`, `git log --stat {before}..{after}`) and, if it is not yours, put the "
        f"branch back (`git reset --keep {before}`); with OS isolation (bubblewrap) a step cannot reach .git at all"
        if before and after else "see what moved it with `git reflog -5`, then run again",
    )


def render(
    ctx: RunContext, step: ResolvedStep, run_id: str, started: str, clock: float, attempt: Attempt,
    earlier: list[Attempt],
) -> Landing:
    """The step's handoff, run record and (when it succeeded) outputs, as files to commit; every secret
    value is redacted from all but the outputs (which were checked for secrets before)."""
    project = ctx.project
    layout = project.layout
    task_id = step.step_id
    task = step.task
    result, plan, outputs, checks = attempt.result, attempt.plan, attempt.outputs, attempt.checks
    secrets = secret_values(dict(os.environ))
    result.summary, result.failure_detail = _redacted(result.summary, secrets), _redacted(result.failure_detail, secrets)
    result.sections = {title: _redacted(text, secrets) for title, text in result.sections.items()}
    status = "done" if result.ok else ("rejected" if attempt.rejected else "uncertain" if attempt.uncertain else "failed")
    duration = round(time.monotonic() - clock, 3)
    usage = attempt.usage
    for before in earlier:
        usage = add_usage(usage, before.usage)
    output_hashes = {rel: digest_bytes(data) for rel, data in sorted(outputs.items())}
    had = attempt.input_hashes  # under an output glob, the files the step started with are among them
    work = [f"- {'Changed' if rel in had else 'Wrote'} `{rel}` ({len(outputs[rel])} bytes)."
            for rel in sorted(outputs)] if result.ok else []
    work += [f"- Deleted `{rel}`." for rel in attempt.deleted] if result.ok else []
    work += [f"- Check `{c['run']}`: {'passed' if c['ok'] else 'failed'}." for c in checks]
    sections = dict(result.sections)
    if work and "Work completed" not in sections:
        sections["Work completed"] = "\n".join(work)
    if attempt.verification:
        sections["Verification"] = _verification_text(attempt.verification, attempt.number)
    summary = result.summary
    if not result.ok:
        why = "Rejected" if attempt.rejected else "Uncertain" if attempt.uncertain else f"Failed ({result.failure_kind})"
        summary = f"{why}: {result.failure_detail}\n\n{summary}".strip()
    body = handoff_body(summary, sections)
    made = definition_of(project, step.task_id, step.item, plan.role if plan else None)
    cached = attempt.cached.meta if attempt.cached is not None else None
    meta: dict[str, Any] = {
        "schema": 1,
        "task": task_id,
        "item": step.item,
        "run": run_id,
        "status": status,
        "role": plan.role if plan else (None if task.is_command else task.role),
        "executor": "command" if task.is_command else ctx.executor_for(step.task_id).name,
        "model": plan.model if plan else None,
        **({k: cached.get(k) for k in ("role", "executor", "model")} if cached else {}),
        "isolation": attempt.isolation.mode,
        "definition": made.digest,
        "definition_parts": made.parts,
        "inputs": attempt.input_hashes,
        "outputs": output_hashes if result.ok else {},
        "deleted": attempt.deleted if result.ok and attempt.deleted else None,
        "upstream": attempt.upstream,
        "usage": {**_usage_fields(usage), "duration_s": duration},
    }
    if attempt.verification:
        meta["verification"] = attempt.verification
    if plan is not None and plan.routing is not None:
        meta["routing"] = plan.routing.dump()
    if not result.ok:
        meta["failure"] = {"kind": result.failure_kind or "crash", "detail": result.failure_detail}
    if attempt.cached is not None:
        meta["cached_from"] = attempt.cached.run
        meta["cached_approval"] = attempt.cached.approval  # None (dropped below) unless a person approved them
    meta["started"], meta["finished"] = started, now()
    meta = {k: v for k, v in meta.items() if v is not None}
    record = {
        "schema": 1,
        "task": task_id,
        "run": run_id,
        "status": status,
        "executor": meta["executor"],
        "isolation": attempt.isolation.to_json(),
        **result.record,
        **attempt.extra,
        **({"rollout": ctx.rollout} if ctx.rollout else {}),
        **({"cached_from": _cached_from(attempt.cached)} if attempt.cached else {}),
        "attempt": attempt.number,
        "feedback": [list(section) for section in attempt.feedback],
        "env": result.record.get("env", attempt.env_names),  # an executor may say what it really passed on
        "env_withheld": result.record.get("env_withheld", attempt.withheld),
        "exit_code": result.exit_code,
        "timeout_s": task.timeout or project.config.timeout,
        "inputs": attempt.input_hashes,
        "outputs": output_hashes,
        "deleted": attempt.deleted,
        "checks": checks,
        "context_tokens": plan.tokens if plan else None,
        "budget": plan.budget.dump(exclude_none=True) if plan else None,
        "usage": meta["usage"],
        "failure": meta.get("failure"),
        "earlier_attempts": [_attempt_summary(a) for a in earlier],
        "started": started,
        "finished": meta["finished"],
        "duration_s": duration,
    }
    base = f"{layout.rel(layout.runs)}/{run_id}"
    # An uncertain step's outputs are kept whatever their size: a person's approval lands them from the record.
    files = record_files(layout, run_id, record, result.stdout, result.stderr, {} if result.ok else outputs,
                         cap=None if attempt.uncertain else PROPOSED_CAP)
    for rel, data in result.files.items():
        files[f"{base}/{rel}"] = data
    for before in earlier:  # each earlier attempt's exchanges and proposed outputs, for review
        prefix = f"{base}/attempt-{before.number}"
        for rel, data in before.result.files.items():
            files[f"{prefix}/{rel}"] = data
        for rel, data in before.outputs.items():
            if len(data) <= PROPOSED_CAP:
                files[f"{prefix}/proposed/{rel}"] = data
    files = compact(files, base)  # each text once, each request as what it added
    files[layout.rel(layout.handoff_file(task_id))] = handoff_file(meta, body)
    files = {rel: redact(data, secrets) for rel, data in files.items()}  # records and handoff, not outputs
    changed: list[str] = []
    if result.ok:
        for rel, data in outputs.items():
            current = layout.root / rel
            if not current.is_file() or current.read_bytes() != data:
                files[rel] = data
                changed.append(rel)
    deleted = to_delete(layout.root, attempt.deleted) if result.ok else []
    message = _commit_message(task_id, task.title, run_id, status, meta, summary, ctx.rollout)
    return Landing(status, meta, body, files, sorted([*changed, *deleted]), message, duration, deleted)


def _redacted(text: str, secrets: list[bytes]) -> str:
    return redact(text.encode("utf-8"), secrets).decode("utf-8") if secrets and text else text


USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd", "turns")


def _usage_fields(usage: dict[str, Any]) -> dict[str, Any]:
    return {k: usage[k] for k in USAGE_FIELDS if k in usage}


def _verification_text(verification: dict[str, Any], attempt: int) -> str:
    verdict = {"pass": "passed", "uncertain": "split on"}.get(str(verification.get("verdict")), "failed")
    from agentfiles.runner.verify import judged_by  # a verified step's: not loaded by command runs

    who = judged_by(verification)
    lines = [f"{who[0].upper()}{who[1:]} {verdict} attempt {attempt}:"]
    for check in verification.get("checks", []):
        lines.append(f"- {check['verdict'].upper()}: {check['criterion']} ({check.get('evidence') or 'no evidence given'})")
    return "\n".join(lines)


def _cached_from(cached: CachedRun) -> dict[str, Any]:
    """The record's `cached_from`: the run whose outputs the step took, its commit, and the approval of them."""
    return {"run": cached.run, "commit": cached.commit, **({"approval": cached.approval} if cached.approval else {})}


def _attempt_summary(attempt: Attempt) -> dict[str, Any]:
    return {
        **({"cached_from": _cached_from(attempt.cached)} if attempt.cached else {}),
        "attempt": attempt.number,
        "failure": {"kind": attempt.result.failure_kind, "detail": attempt.result.failure_detail},
        "verification": attempt.verification,
        # the doer's and the verifier's, and the attempt's time; the verifier's alone below
        "usage": {**_usage_fields(attempt.usage), "duration_s": attempt.duration_s},
        "verifier": {k: v for k, v in (attempt.extra.get("verifier") or {}).items() if k in ("role", "model", "usage")},
        **({"panel": [{k: v for k, v in judge.items() if k in ("role", "model", "usage")}
                      for judge in attempt.extra["panel"]["judges"]]} if attempt.extra.get("panel") else {}),
        "outputs": {rel: digest_bytes(data) for rel, data in sorted(attempt.outputs.items())},
        "record": f"attempt-{attempt.number}/",
    }


def _commit_message(
    task_id: str, title: str, run_id: str, status: str, meta: dict[str, Any], summary: str, rollout: str | None = None
) -> str:
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
    if rollout:
        lines.append(f"Agents-Rollout: {rollout}")
    return "\n".join(lines) + "\n"
