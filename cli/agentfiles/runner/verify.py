"""Verification: a role other than the doer judges every prose acceptance criterion of a step in its own
clean context (intent, criteria, proposed outputs with their diff, inputs, the doer's handoff; never the
doer's conversation) and answers with the `verdict` tool. A failed verdict becomes the feedback of the
next attempt, or the step's rejection."""

from __future__ import annotations

import time
from dataclasses import field
from typing import TYPE_CHECKING, Any, Callable

from agentfiles.core.context import assemble_verification
from agentfiles.core.conversation import Limits, VerifierTools, turn_files
from agentfiles.core.paths import has_glob
from agentfiles.core.records import record
from agentfiles.runner.agent import brief_of, role_plan

if TYPE_CHECKING:
    from agentfiles.core.project import Project
    from agentfiles.runner.resolve import ResolvedStep

DEFAULT_VERDICT_TOKENS = 4000
MAX_VERIFIER_TURNS = 10  # reading a few files and giving a verdict; more turns means it is stuck


@record
class VerifyOutcome:
    ok: bool  # a verdict was given (pass or fail)
    passed: bool = False
    verification: dict[str, Any] | None = None  # the handoff's `verification`
    failure_kind: str | None = None  # when no verdict could be had
    failure_detail: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # run-record files, under verifier/
    record: dict[str, Any] = field(default_factory=dict)
    uncertain: bool = False  # a panel split on a criterion (runner/panel.py)
    detail: str = ""  # then, on which and how


def verify(
    project: Project,
    step: ResolvedStep,
    verifier: str,
    read: Callable[[str], str],
    proposed: dict[str, bytes],
    handoff: str,
    executor: Any,
    cancel: Any = None,
    deleted: list[str] | None = None,
) -> VerifyOutcome:
    """The verifier's verdict on `proposed` (the outputs written, by path) and `deleted` (files under the
    step's output globs it deleted)."""
    root = project.layout.root
    model, budget, price, max_turns = role_plan(project, verifier)
    brief = brief_of(project, step)
    exact = [o for o in step.task.outputs if not has_glob(o)]
    brief.outputs = exact + sorted(set(proposed) - set(exact)) + sorted(deleted or [])  # the files, globs expanded
    current: dict[str, str | None] = {}
    for rel in brief.outputs:
        path = root / rel
        current[rel] = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
    texts = {rel: data.decode("utf-8", "replace") for rel, data in proposed.items()}
    context = assemble_verification(root, project.roles[verifier].body, brief, read, texts, current, handoff,
                                    deleted or [])
    request = context.request(model, budget.output_tokens or DEFAULT_VERDICT_TOKENS)
    tokens = context.estimate()
    record: dict[str, Any] = {"role": verifier, "model": model, "context_tokens": tokens}
    if budget.context_tokens and tokens > budget.context_tokens:
        largest = ", ".join(f"{p.label} (~{p.tokens} tokens)" for p in context.largest(3))
        return VerifyOutcome(
            ok=False, failure_kind="budget", record=record,
            failure_detail=f"the verifier's context is ~{tokens} tokens, over its budget of {budget.context_tokens}; "
            f"largest: {largest}",
        )
    limits = Limits(max_turns=min(max_turns, MAX_VERIFIER_TURNS), usd=budget.usd, context_tokens=budget.context_tokens)
    tools = VerifierTools(context.full_inputs, brief.criteria, limits)
    began = time.monotonic()
    outcome = executor.converse(request, tools, limits, price, cancel)
    # Its time is recorded with its usage, so that a run's time can be split between doer and verifier.
    record.update(turns=len(outcome.turns), tools=outcome.tool_log,
                  retries=[a for turn in outcome.turns for a in turn.attempts],  # its failed calls, as the doer's
                  usage={**outcome.usage, "duration_s": round(time.monotonic() - began, 3)})
    files = turn_files(outcome, "verifier/")
    if not outcome.ok:
        return VerifyOutcome(
            ok=False, failure_kind=outcome.failure_kind, failure_detail=f"the verifier: {outcome.failure_detail}",
            usage=outcome.usage, files=files, record=record,
        )
    passed = all(c["verdict"] == "pass" for c in outcome.verdict)
    verification = {"verdict": "pass" if passed else "fail", "verifier": verifier, "checks": outcome.verdict}
    record["verification"] = verification
    return VerifyOutcome(ok=True, passed=passed, verification=verification, usage=outcome.usage, files=files, record=record)


def failed_checks(verification: dict[str, Any]) -> list[dict[str, str]]:
    return [c for c in verification.get("checks", []) if c.get("verdict") != "pass"]


def rejection_detail(verification: dict[str, Any]) -> str:
    failed = failed_checks(verification)
    shown = "; ".join(f"`{c['criterion']}`: {c.get('evidence') or 'no evidence given'}" for c in failed[:3])
    more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
    noun = "criterion" if len(failed) == 1 else "criteria"
    return f"{judged_by(verification)} failed {len(failed)} {noun}: {shown}{more}"


def judged_by(verification: dict[str, Any]) -> str:
    """`the verifier `x``, or for a panel `the verifiers `x, y` (agree: all)`."""
    if verification.get("agree"):
        return f"the verifiers `{verification.get('verifier')}` (agree: {verification['agree']})"
    return f"the verifier `{verification.get('verifier')}`"


def feedback_section(verification: dict[str, Any], attempt: int, run: str | None = None) -> tuple[str, str]:
    """The extra brief section of the next attempt: the verdict on the previous one (of this run, or,
    with `run`, the last attempt of an earlier run the verifier rejected)."""
    what = f"The last attempt of run {run}" if run else f"Attempt {attempt}"
    lines = [
        f"{what} was rejected by the verifier `{verification.get('verifier')}`. Its verdict on each "
        "acceptance criterion follows; produce the outputs again so that every criterion passes.",
        "",
    ]
    for check in verification.get("checks", []):
        mark = {"pass": "PASS", "fail": "FAIL"}.get(str(check.get("verdict")), "UNDECIDED")
        lines.append(f"- {mark}: {check['criterion']}\n  Evidence: {check.get('evidence') or '(none given)'}")
    return ("Verdict on the previous run" if run else f"Verdict on attempt {attempt}", "\n".join(lines))
