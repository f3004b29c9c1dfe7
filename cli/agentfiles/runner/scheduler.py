"""Runs planned steps in dependency order, up to `jobs` at once, and lands them on a committer meanwhile; a
step starts when every planned step it waits for has landed and succeeded. A failure skips its dependents
and, unless `keep_going`, stops new starts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import field

from agentfiles.core.plan import PlannedStep
from agentfiles.core.records import record
from agentfiles.runner.step import Finished, StepCancelled, StepOutcome


@record
class Skipped:
    """A planned step that did not run, and why."""

    task: str
    reason: str


@record
class Report:
    """What a run's steps came to: their outcomes and the steps skipped."""

    outcomes: list[StepOutcome] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if not o.ok]


EventSink = Callable[[str, object], None]


def run_steps(
    plan: list[PlannedStep],
    execute: Callable[[str], Finished | StepOutcome],
    land: Callable[[list[Finished]], list[StepOutcome]],
    *,
    jobs: int,
    keep_going: bool,
    on_event: EventSink,
    cancelled: threading.Event,
    prepare: Callable[[], object] | None = None,
) -> Report:
    """Execute up to `jobs` steps at once; a step's slot frees as soon as it is executed, and a committer
    lands the executed steps while others run (all those waiting, together). A step starts once every
    planned step it needs has landed and succeeded. `prepare`, the committer's first job, fetches what
    every landing needs while the first steps run (its errors are left to the landings to meet)."""
    state = _Run(plan, on_event, keep_going)
    running: dict[Future[Finished | StepOutcome], str] = {}
    queued: list[Finished] = []  # executed, waiting for the committer
    landing: Future[list[StepOutcome]] | None = None
    error: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="agents-step")
    committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agents-commit")
    try:
        if prepare is not None:
            committer.submit(prepare)
        while True:
            if not state.stopped and not cancelled.is_set():
                for task in state.ready(jobs - len(running)):
                    on_event("start", task)
                    running[pool.submit(execute, task)] = task
            if landing is None and queued:
                landing, queued = committer.submit(land, queued), []
            if not running and landing is None:
                break
            done, _ = wait([*running, *([landing] if landing else [])], return_when=FIRST_COMPLETED)
            for future in done:
                is_landing = future is landing
                if is_landing:
                    landing = None
                else:
                    running.pop(future)  # type: ignore[call-overload]
                try:
                    result = future.result()
                except StepCancelled:
                    state.report.interrupted = True
                    continue
                except BaseException as exc:  # an error outside the step's own failure: stop everything
                    cancelled.set()
                    error = error or exc
                    continue
                if is_landing:
                    for outcome in result:  # type: ignore[union-attr]
                        state.settle(outcome)
                elif isinstance(result, Finished):
                    queued.append(result)
                    if not result.attempt.result.ok and not keep_going:
                        state.stopped = True  # it lands as failed: start nothing new meanwhile
                else:
                    state.settle(result)  # type: ignore[arg-type]
        state.skip_rest(cancelled.is_set())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        committer.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
    return state.report


class _Run:
    """What is planned, what has succeeded, and what has been reported, of one run of the scheduler."""

    def __init__(self, plan: list[PlannedStep], on_event: EventSink, keep_going: bool) -> None:
        self.report = Report()
        self.waiting = {step.task: set(step.needs) for step in plan}
        self.order = [step.task for step in plan]
        self.succeeded: set[str] = set()
        self.stopped = False
        self.on_event = on_event
        self.keep_going = keep_going

    def ready(self, room: int) -> list[str]:
        """Up to `room` planned steps whose needs have all landed and succeeded, taken off the plan."""
        found = [task for task in self.order if self.waiting[task] <= self.succeeded][: max(0, room)]
        for task in found:
            self.order.remove(task)
        return found

    def settle(self, outcome: StepOutcome) -> None:
        """A step landed (or could not start): report it; a failure skips what waits for it."""
        self.report.outcomes.append(outcome)
        self.on_event("finish", outcome)
        if outcome.ok:
            self.succeeded.add(outcome.task)
            return
        for other in _dependents_of(outcome.task, self.order, self.waiting):
            self.order.remove(other)
            skip = Skipped(other, f"needs {outcome.task}, which {_WHICH.get(outcome.status, outcome.status)}")
            self.report.skipped.append(skip)
            self.on_event("skip", skip)
        if not self.keep_going:
            self.stopped = True

    def skip_rest(self, interrupted: bool) -> None:
        for task in self.order:
            skip = Skipped(task, "interrupted" if interrupted else "not started after a failure (use --keep-going)")
            self.report.skipped.append(skip)
            self.on_event("skip", skip)


# How a step that did not succeed is named in the skip of what needs it: `needs t, which is uncertain`.
_WHICH = {"rejected": "was rejected", "uncertain": "is uncertain"}


def _dependents_of(task: str, order: list[str], waiting: dict[str, set[str]]) -> list[str]:
    """Planned, not yet started steps that wait for `task`, directly or through another of them."""
    blocked = {task}
    found: list[str] = []
    changed = True
    while changed:
        changed = False
        for other in order:
            if other not in found and waiting[other] & blocked:
                found.append(other)
                blocked.add(other)
                changed = True
    return [t for t in order if t in found]
