"""A verifier panel: each of several roles judges the step in its own clean context (runner/verify.py), all
at once; their verdicts are combined by the task's `agree` rule (core/consensus.py). A panel that splits
on a criterion leaves the step `uncertain`."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agentfiles.core.consensus import disagreement, panel_verdict
from agentfiles.core.usage import add_usage
from agentfiles.runner.verify import VerifyOutcome, verify

if TYPE_CHECKING:
    from agentfiles.core.project import Project
    from agentfiles.runner.resolve import ResolvedStep


def judge(
    project: Project,
    step: ResolvedStep,
    verifiers: list[str],
    read: Callable[[str], str],
    proposed: dict[str, bytes],
    handoff: str,
    executor: Any,
    cancel: Any = None,
    deleted: list[str] | None = None,
) -> VerifyOutcome:
    """The verdict of one verifier, or of a panel of several (recorded under `panel/<role>/`, each
    judge's record in `record["judges"]`), on the outputs `proposed` and the files `deleted`."""
    if len(verifiers) == 1:
        return verify(project, step, verifiers[0], read, proposed, handoff, executor, cancel, deleted)
    with ThreadPoolExecutor(max_workers=len(verifiers), thread_name_prefix="agents-judge") as pool:
        futures = [pool.submit(contextvars.copy_context().run, verify, project, step, name, read, proposed, handoff,
                               executor, cancel, deleted) for name in verifiers]
        outcomes = [f.result() for f in futures]
    agree = step.task.agree
    usage: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    for name, outcome in zip(verifiers, outcomes):
        usage = add_usage(usage, outcome.usage)
        files.update({f"panel/{name}/{rel.removeprefix('verifier/')}": data for rel, data in outcome.files.items()})
    record: dict[str, Any] = {"agree": agree, "judges": [o.record for o in outcomes]}
    broken = next(((name, o) for name, o in zip(verifiers, outcomes) if not o.ok), None)
    if broken is not None:  # a judge that gave no verdict: the panel cannot decide
        name, outcome = broken
        detail = outcome.failure_detail.removeprefix("the verifier: ")
        return VerifyOutcome(ok=False, failure_kind=outcome.failure_kind,
                             failure_detail=f"the verifier `{name}` of the panel: {detail}", usage=usage, files=files,
                             record=record)
    judges = [{"verifier": name, "model": o.record.get("model"), "checks": (o.verification or {}).get("checks") or []}
              for name, o in zip(verifiers, outcomes)]
    verification = panel_verdict(judges, step.task.prose_criteria, agree)
    record["verification"] = verification
    return VerifyOutcome(ok=True, passed=verification["verdict"] == "pass", verification=verification, usage=usage,
                         files=files, record=record, uncertain=verification["verdict"] == "uncertain",
                         detail=disagreement(verification) if verification["verdict"] == "uncertain" else "")
