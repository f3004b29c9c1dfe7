"""Which steps `agents run` carries out, in what order, and why: the reconcile plan."""

from __future__ import annotations

from dataclasses import field

from agentfiles.core.facts import Facts
from agentfiles.core.graph import TaskGraph
from agentfiles.core.records import record
from agentfiles.core.state import TaskState
from agentfiles.errors import PreconditionError


@record
class PlannedStep:
    """A step a run will start, why, and the planned steps it waits for."""

    task: str
    reasons: list[str]
    needs: list[str] = field(default_factory=list)  # planned steps this one waits for

    def to_json(self) -> dict[str, object]:
        return {"task": self.task, "reasons": self.reasons, "after": self.needs}


def upstream_closure(graph: TaskGraph, targets: list[str]) -> set[str]:
    """The targets and every task they need, transitively."""
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        task = stack.pop()
        if task in seen:
            continue
        seen.add(task)
        stack.extend(graph.needs(task))
    return seen


def plan_run(
    facts: Facts,
    states: dict[str, TaskState],
    targets: list[str] | None = None,
    *,
    force: bool = False,
    with_needs: bool = True,
    held: dict[str, str] | None = None,
) -> list[PlannedStep]:
    """The steps to run, in dependency order: every task not `done` (all of them with `force`).

    With `targets`, only those tasks, plus (with `with_needs`) the tasks they need that are not done.
    Blocked tasks on a cycle are left out: they cannot run. An `uncertain` task awaits a person's review:
    it runs again only when named (or forced), and what needs it waits; both go into `held` with why.
    """
    graph = TaskGraph.from_needs({t: f.needs for t, f in facts.tasks.items()})
    order, cyclic = graph.order()
    scope = set(order)
    if targets and not with_needs:
        for target in targets:
            waiting = [n for n in graph.needs(target) if states[n].state != "done"]
            if waiting and not facts.tasks[target].family:
                shown = ", ".join(f"{n} ({states[n].state})" for n in waiting)
                raise PreconditionError(
                    f"{target} needs tasks that are not done: {shown}",
                    hint=f"run `agents run {target}` without --no-deps to bring them up to date first",
                )
    if targets:
        if with_needs:
            scope &= upstream_closure(graph, targets)
        else:
            scope &= set(targets) | {i for t in targets if t in facts.tasks and facts.tasks[t].family for i in facts.tasks[t].needs}

    def runnable(task: str) -> list[str]:
        """A foreach task stands for its items: waiting for it means waiting for each of them."""
        if facts.tasks[task].family:
            return [i for n in graph.needs(task) for i in runnable(n)]
        return [task]

    steps: dict[str, PlannedStep] = {}
    awaiting: dict[str, str] = {}  # held back for a person's review, and why
    for task in order:
        if task not in scope or facts.tasks[task].family:
            continue
        state = states[task]
        family = task.split("@", 1)[0]
        named = bool({task, family} & set(targets or []))
        forced = force and (not targets or named)
        if state.state == "done" and not forced:
            continue
        if state.state == "uncertain" and not (forced or named):
            awaiting[task] = "uncertain: awaiting review (`agents review`, then `agents approve` or `reject`)"
            continue
        stuck = [i for n in graph.needs(task) for i in runnable(n) if i in awaiting]
        if stuck:
            awaiting[task] = f"needs {stuck[0]}, which awaits review"
            continue
        reasons = ["forced"] if state.state == "done" else [state.state, *state.reasons]
        after = [i for n in graph.needs(task) for i in runnable(n) if i in steps]
        steps[task] = PlannedStep(task, reasons, list(dict.fromkeys(after)))
    for task in cyclic:
        if task in scope:
            steps.pop(task, None)
    if held is not None:
        held.update(awaiting)
    return list(steps.values())
