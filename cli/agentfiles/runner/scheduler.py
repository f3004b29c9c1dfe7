"""Runs planned steps in dependency order, up to `jobs` at once; a step starts when every planned step it
waits for has succeeded. A failure skips its dependents and, unless `keep_going`, stops new starts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from agentfiles.core.plan import PlannedStep
from agentfiles.runner.step import StepCancelled, StepOutcome


@dataclass
class Skipped:
    task: str
    reason: str


@dataclass
class Report:
    outcomes: list[StepOutcome] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> list[StepOutcome]:
        return [o for o in self.outcomes if not o.ok]


EventSink = Callable[[str, object], None]


def run_steps(
    plan: list[PlannedStep],
    run_one: Callable[[str], StepOutcome],
    *,
    jobs: int,
    keep_going: bool,
    on_event: EventSink,
    cancelled: threading.Event,
) -> Report:
    report = Report()
    waiting = {step.task: set(step.needs) for step in plan}
    order = [step.task for step in plan]
    succeeded: set[str] = set()
    stopped = False
    error: BaseException | None = None
    running: dict[Future[StepOutcome], str] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="agents-step")
    try:
        while True:
            if not stopped and not cancelled.is_set():
                for task in list(order):
                    if len(running) >= jobs:
                        break
                    if waiting[task] <= succeeded:
                        order.remove(task)
                        on_event("start", task)
                        running[pool.submit(run_one, task)] = task
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                try:
                    outcome = future.result()
                except StepCancelled:
                    report.interrupted = True
                    continue
                except BaseException as exc:  # an error outside the step's own failure: stop everything
                    cancelled.set()
                    error = error or exc
                    continue
                report.outcomes.append(outcome)
                on_event("finish", outcome)
                if outcome.ok:
                    succeeded.add(task)
                    continue
                for other in _dependents_of(task, order, waiting):
                    order.remove(other)
                    skip = Skipped(other, f"needs {task}, which {outcome.status}")
                    report.skipped.append(skip)
                    on_event("skip", skip)
                if not keep_going:
                    stopped = True
        for task in order:
            reason = "interrupted" if cancelled.is_set() else "not started after a failure (use --keep-going)"
            skip = Skipped(task, reason)
            report.skipped.append(skip)
            on_event("skip", skip)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
    return report


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
