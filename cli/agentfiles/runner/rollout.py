"""Carrying out a progressive rollout (core/rollout.py): each phase runs as a run of its own steps; then
every step of the rollout in it is compared with its previous run (outputs diff, verdicts before and
after). A step that failed, was rejected or left uncertain, or that turned a criterion its previous run
passed into a fail (on any attempt), is a regression: the rollout halts and the rest stay stale. A step
that did not start (a failure stopped further starts, or a step it needs failed) did not regress: it is
left as it was, with the steps of the phases not started."""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any

from agentfiles.core.plan import PlannedStep
from agentfiles.core.records import record
from agentfiles.runner.scheduler import Report, run_steps

if TYPE_CHECKING:
    from agentfiles.core.project import Entry
    from agentfiles.core.rollout import RolloutPlan
    from agentfiles.runner.attempt import RunContext, StepOutcome


@record
class Comparison:
    """One step of the rollout against its previous run."""

    task: str
    before: str | None  # the previous run's id
    after: str | None  # this run's, when it ran
    status: str  # done | failed | rejected | uncertain
    regression: str | None = None
    verdicts: list[dict[str, str]] = field(default_factory=list)  # {criterion, before, after}
    changed: list[str] = field(default_factory=list)  # outputs that differ from the previous run's
    diff: str = ""
    wrote: bool = True  # False: it could not start, or failed before writing (its outputs are not "changed")

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "before": self.before, "after": self.after, "status": self.status,
                "regression": self.regression, "verdicts": self.verdicts, "changed": self.changed, "diff": self.diff,
                "wrote": self.wrote}


@record
class RolloutResult:
    """What a rollout did: the phases run, the comparisons made, and why it halted."""

    plan: RolloutPlan
    compared: list[Comparison] = field(default_factory=list)
    halted: str | None = None  # why the rollout stopped before its last phase
    phases_run: int = 0
    skipped: list[str] = field(default_factory=list)  # steps of the phases it ran that did not start
    not_run: list[str] = field(default_factory=list)  # the steps of the phases it did not start

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.compared if c.regression]

    @property
    def left(self) -> list[str]:
        """The rollout's steps left as they were: those that did not start, in the phases it ran or after."""
        return [*self.skipped, *self.not_run]

    def to_json(self) -> dict[str, Any]:
        return {**self.plan.to_json(), "compared": [c.to_json() for c in self.compared], "halted": self.halted,
                "phases_run": self.phases_run, "skipped": self.skipped, "not_run": self.not_run}


def run_rollout(
    ctx: RunContext, plan: list[PlannedStep], rollout: RolloutPlan, runner: Any, jobs: int, keep_going: bool,
    on_event: Any,
) -> tuple[RolloutResult, Report]:
    """Run `rollout`'s phases in order, comparing after each; halt on the first regression or failure."""
    result = RolloutResult(rollout)
    report = Report()
    planned = {s.task: s for s in plan}
    candidates = set(rollout.candidates)
    for number, phase in enumerate(rollout.phases):
        what = "canary" if number == 0 else f"wave {number} of {len(rollout.phases) - 1}"
        on_event("note", f"rollout {rollout.id}: {what}: {', '.join(phase)}")
        where = "the canary" if number == 0 else what  # `halted at the canary: ...`, `halted at wave 1 of 2: ...`
        before = {t: _snapshot(ctx, t) for t in phase if t in candidates}
        inside = set(phase)
        steps = [PlannedStep(t, planned[t].reasons, [n for n in planned[t].needs if n in inside]) for t in phase]
        done = run_steps(steps, runner.execute, runner.land, jobs=jobs, keep_going=keep_going, on_event=on_event,
                         cancelled=ctx.cancelled, prepare=runner.prepare_landing)
        report.outcomes += done.outcomes
        report.skipped += done.skipped
        report.interrupted = report.interrupted or done.interrupted
        result.phases_run = number + 1
        outcomes = {o.task: o for o in done.outcomes}
        for task in phase:
            if task in candidates and task in outcomes:  # one that did not start has nothing to compare
                result.compared.append(compare(ctx, task, before[task], outcomes[task]))
        result.skipped += [s.task for s in done.skipped]
        if report.interrupted:
            break
        regressions = [c for c in result.compared if c.regression]
        if regressions:
            result.halted = f"{where}: {regressions[0].task} regressed: {regressions[0].regression}"
        elif done.failed:  # a step that is not the rollout's (it waits for one, or failed before) failed
            first = done.failed[0]
            kind = "" if first.failure_kind == first.status else f"{first.failure_kind}: "
            result.halted = f"{where}: step {first.task} {first.status}: {kind}{first.failure_detail}"
        elif done.skipped:
            result.halted = f"{where}: {len(done.skipped)} step(s) did not run"
        if result.halted:
            break
    result.not_run = [t for phase in rollout.phases[result.phases_run:] for t in phase]
    return result, report


def _snapshot(ctx: RunContext, task: str) -> tuple[Entry[Any] | None, dict[str, bytes]]:
    """A step's handoff and outputs as its previous run left them."""
    entry = ctx.project.handoffs.get(task)
    outputs: dict[str, bytes] = {}
    if entry is not None:
        for rel in entry.model.outputs:
            path = ctx.root / rel
            if path.is_file():
                outputs[rel] = path.read_bytes()
    return entry, outputs


def compare(ctx: RunContext, task: str, before: tuple[Entry[Any] | None, dict[str, bytes]],
            outcome: StepOutcome) -> Comparison:
    """The step's new run against its previous one: outputs, verdicts, and what regressed."""
    from agentfiles.core.context import unified_diff
    from agentfiles.storage.records import read_record

    entry, old_outputs = before
    old = entry.model if entry is not None else None
    if outcome.commit is None:  # refused before it started: nothing was committed
        return Comparison(task, old.run if old else None, None, outcome.status,
                          f"could not start: {outcome.failure_kind}: {outcome.failure_detail}", wrote=False)
    layout = ctx.project.layout
    record = read_record(layout, outcome.run_id) or {}
    new = ctx.project.handoffs[task].model
    found = Comparison(task, old.run if old else None, outcome.run_id, outcome.status)
    regressions: list[str] = []
    if outcome.status != "done":
        kind = "" if outcome.failure_kind == outcome.status else f"{outcome.failure_kind}: "
        regressions.append(f"{outcome.status}: {kind}{outcome.failure_detail}")
    earlier = _verdicts(old.verification.dump() if old and old.verification else None)
    earlier.update(_checks(read_record(layout, old.run) or {} if old else {}))
    now = _verdicts(new.verification.dump() if new.verification else None)
    now.update(_checks(record))
    for criterion in dict.fromkeys([*earlier, *now]):
        found.verdicts.append({"criterion": criterion, "before": earlier.get(criterion, "-"),
                               "after": now.get(criterion, "-")})
        if earlier.get(criterion) == "pass" and now.get(criterion) == "fail":
            regressions.append(f"`{criterion}` passed in run {old.run if old else '?'} and fails now")
    for attempt in record.get("earlier_attempts") or []:
        for criterion, verdict in _verdicts(attempt.get("verification")).items():
            if earlier.get(criterion) == "pass" and verdict == "fail":
                regressions.append(f"`{criterion}` passed in run {old.run if old else '?'} and failed on attempt "
                                   f"{attempt.get('attempt')} of this run (a retry passed it)")
    new_outputs = _produced(ctx, outcome, new)
    # A step that did not land compares only what it wrote: an output it never wrote did not change.
    found.wrote = outcome.status == "done" or bool(new_outputs)
    parts = []
    for rel in sorted(set(old_outputs) | set(new_outputs) if outcome.status == "done" else set(new_outputs)):
        a, b = old_outputs.get(rel), new_outputs.get(rel)
        if a != b:
            found.changed.append(rel)
            parts.append(unified_diff(a.decode("utf-8", "replace") if a is not None else None,
                                      (b or b"").decode("utf-8", "replace"), f"before/{rel}", f"after/{rel}"))
    found.diff = "".join(parts)
    found.regression = regressions[0] if regressions else None
    return found


def _verdicts(verification: dict[str, Any] | None) -> dict[str, str]:
    return {str(c.get("criterion")): str(c.get("verdict")) for c in (verification or {}).get("checks") or []}


def _checks(record: dict[str, Any]) -> dict[str, str]:
    return {f"run: {c.get('run')}": "pass" if c.get("ok") else "fail" for c in record.get("checks") or []}


def _produced(ctx: RunContext, outcome: StepOutcome, handoff: Any) -> dict[str, bytes]:
    """What the new run produced: its landed outputs, or what it proposed (kept in its record)."""
    from agentfiles.storage.records import record_file, run_folder

    layout = ctx.project.layout
    if outcome.status == "done":
        return {rel: (ctx.root / rel).read_bytes() for rel in handoff.outputs if (ctx.root / rel).is_file()}
    from agentfiles.runner.resolve import resolve_step

    folder = run_folder(layout, outcome.run_id) / "proposed"
    declared = resolve_step(ctx.project, outcome.task).task.outputs
    return {rel: (folder / rel).read_bytes() for rel in declared if record_file(layout, folder / rel)}
