"""What can be known about a step before it runs: a declared input that does not exist and that no step
will produce, or a model step whose context (built from the files as they are) is over its budget.
`agents run --dry-run` reports these and exits 1; a real run finds the same at the step's start and
commits nothing for it; `agents status` marks such a step `blocked`, with the figures."""

from __future__ import annotations

import bisect
import hashlib
from typing import TYPE_CHECKING

from agentfiles.core.paths import has_glob, one_reach

if TYPE_CHECKING:
    from agentfiles.core.plan import PlannedStep
    from agentfiles.core.project import Project
    from agentfiles.core.state import TaskState
    from agentfiles.runner.agent import AgentPlan
    from agentfiles.runner.resolve import ResolvedStep
    from agentfiles.storage.context_cache import ContextCache, ContextSize
    from agentfiles.storage.workspace import Workspace


def known_failures(workspace: Workspace, plan: list[PlannedStep]) -> dict[str, str]:
    """Planned step -> why it would fail before it starts."""
    from agentfiles.core.foreach import family_of
    from agentfiles.core.state import Produced
    from agentfiles.runner.resolve import resolve_step

    project = workspace.project
    root = workspace.root
    produced = Produced.of(out for facts in workspace.facts().tasks.values() for out in facts.outputs)  # items' own

    families = {family_of(p.task) for p in plan}
    planned_outputs = {out for p in plan for out in resolve_step(project, p.task).task.outputs}
    found: dict[str, str] = {}
    for planned in plan:
        step = resolve_step(project, planned.task)
        paths = [spec.path for spec in step.task.inputs if spec.path is not None]
        missing = [p for p in paths if not has_glob(p) and not (root / p).exists() and not produced.makes(p)]
        if missing:
            found[planned.task] = "declared input missing: " + ", ".join(missing)
            continue
        if step.task.is_command or any(p in planned_outputs for p in paths) or step.task.select:
            continue  # its context is only known once the steps before it have run (or a router chose)
        if any(spec.handoff for spec in step.task.inputs if spec.handoff in families):
            continue
        try:
            agent = context_plan(project, step)
        except OSError:  # an input it cannot read: its start says so, as it would without this check
            continue
        over = None if agent.budget.precise else agent.over_budget()  # else the API counts, at its start
        if over:
            found[planned.task] = over
    return found


def will_start(plan: list[PlannedStep], failing: dict[str, str]) -> list[PlannedStep]:
    """The planned steps that will start: neither known to fail before it nor waiting for one that is."""
    out: set[str] = set(failing)
    for step in plan:  # in dependency order
        if any(need in out for need in step.needs):
            out.add(step.task)
    return [step for step in plan if step.task not in out]


def context_plan(project: Project, step: ResolvedStep) -> AgentPlan:
    """A model step's plan from the files as they are now, as the executor it would run on builds it."""
    from agentfiles.runner.agent import agent_plan
    from agentfiles.storage.files import text_reader

    kind = step.task.executor if step.task.executor != "auto" else project.config.executor
    read = text_reader(project.layout.root, missing_ok=True)
    return agent_plan(project, step, read, purpose="claude-code" if kind == "claude-code" else "do")


def with_context_budgets(workspace: Workspace, states: dict[str, TaskState]) -> dict[str, TaskState]:
    """`states`, with each model step `agents run` would start (ready or stale) whose context is over its
    budget `blocked`, the figures its reason: the run would refuse it before it starts. A step whose
    context holds what a task not done yet produces is left as it is (its context is not known yet); a
    command step has none (sizing it would load the whole project for nothing).

    Sizes come from the context cache while nothing a context is built from changed (a stat per file);
    only a step whose files changed has its context built again, which loads the whole project."""
    from agentfiles.core.fingerprint import expand_path_input
    from agentfiles.core.state import TaskState
    from agentfiles.storage.context_cache import ContextCache

    candidates = [s.id for s in states.values() if s.state in ("ready", "stale") and not s.command]
    if not candidates:
        return states
    root = workspace.root
    cache = ContextCache(root, workspace.layout.cache / "contexts.json")
    world = hashlib.blake2b("\n".join(f"{t} {s.definition}" for t, s in sorted(states.items())).encode(),
                           digest_size=20).hexdigest()
    sizes: dict[str, ContextSize] = {}
    with one_reach():  # nothing is written meanwhile: each folder's real path is found once for all steps
        for step in candidates:
            found = cache.get(step, states[step].definition, world, lambda p: expand_path_input(root, p))
            if found is not None:
                sizes[step] = found
        missing = [s for s in candidates if s not in sizes]
        if missing:
            sizes.update(_measure(workspace, missing, states, world, cache))
    cache.save(set(candidates))
    out = dict(states)
    for step, size in sizes.items():
        if not size.over() or any(a not in states or states[a].state != "done" for a in size.after):
            continue
        was = states[step]
        reason = (f"context over budget: ~{size.tokens} tokens, the budget is {size.limit}; "
                  f"largest: {size.largest}")
        kept = was.reasons if was.state == "stale" else []
        out[step] = TaskState(was.id, "blocked", [reason, *kept], was.run, was.definition, was.isolation,
                              was.parts, was.command)
    return out


def _measure(
    workspace: Workspace, steps: list[str], states: dict[str, TaskState], world: str, cache: ContextCache
) -> dict[str, ContextSize]:
    """Build the context of each of `steps` as `agents run --dry-run` does, and record its size with the
    files it came from."""
    from agentfiles.core.claude_imports import context_files
    from agentfiles.core.fingerprint import expand_path_input
    from agentfiles.core.paths import check_repo_path
    from agentfiles.errors import AgentsError
    from agentfiles.runner.agent import input_views
    from agentfiles.runner.resolve import resolve_step
    from agentfiles.storage.context_cache import ContextSize

    project = workspace.project
    facts = workspace.facts()
    root = workspace.root
    producers = Producers([(out, t) for t, f in facts.tasks.items() if not f.family for out in f.outputs])
    sizes: dict[str, ContextSize] = {}
    for step_id in steps:
        definition = states[step_id].definition or ""
        try:
            step = resolve_step(project, step_id)
        except KeyError:
            continue
        task = step.task
        if task.is_command or task.select:  # no context to size (a router picks the role at run time)
            size = ContextSize(definition, world, [], [".agents/config.yaml"], [], "", 0, None, "")
        else:
            patterns = [spec.path for spec in task.inputs if spec.path is not None]
            globs = [[p, expand_path_input(root, p)] for p in patterns]
            globs += [[p, expand_path_input(root, p)] for p in task.outputs if has_glob(p)]
            looked: list[str] = []
            handoffs = [spec.handoff for spec in task.inputs if spec.handoff is not None]
            files = [".agents/config.yaml", *(f for _, found in globs for f in found),
                     *(f".agents/handoffs/{h}.md" for h in handoffs)]
            after = set(facts.tasks[step_id].needs if step_id in facts.tasks else []) | set(handoffs)
            after |= {t for p in patterns for t in producers.of(p)}  # who writes what it reads
            after.discard(step_id)
            try:
                declared = [v for v, _ in input_views(root, step)] + list(task.outputs)
                context_files(root, declared, looked=looked)
                plan = context_plan(project, step)
            except (AgentsError, OSError):  # a broken CLAUDE.md import, an unreadable input: the run says so
                plan = None
            files += [p for p in looked if check_repo_path(p) is None]
            largest = plan.context.largest(3) if plan else []
            parts = ", ".join(f"{p.label} (~{p.tokens} tokens)" for p in largest)
            # a path input that is one file is watched by its signature among `files`; the others (globs,
            # folders, a path missing or out of reach) by what they expand to as well
            watched = [g for g in globs if has_glob(g[0]) or g[1] != [g[0]]]
            size = ContextSize(definition, world, sorted(after), list(dict.fromkeys(files)), watched, "",
                               plan.tokens if plan else 0, _judged_limit(plan), parts)
        cache.put(step_id, size)
        sizes[step_id] = size
    return sizes


def _judged_limit(plan: AgentPlan | None) -> int | None:
    """The context budget a status judges a step by: none for `precise: true` (the API counts, at the
    step's start)."""
    if plan is None or plan.budget.precise:
        return None
    return plan.budget.context_tokens


class Producers:
    """The tasks whose declared outputs a path input may hold: an output that is the path, one its glob
    matches, one under it (a folder), or an output glob that matches it. Indexed once for all the steps
    sized, so that each input is looked up rather than compared with every output of the project."""

    def __init__(self, outputs: list[tuple[str, str]]) -> None:
        from agentfiles.core.globs import glob_base

        self.exact: dict[str, set[str]] = {}
        for out, task in outputs:
            self.exact.setdefault(out, set()).add(task)
        self.names = sorted(self.exact)  # every output as written: a prefix's are side by side
        self.globs: dict[str, list[tuple[str, str]]] = {}  # output globs by their literal folders
        for out, task in outputs:
            if has_glob(out):
                self.globs.setdefault(glob_base(out), []).append((out, task))
        self.found: dict[str, set[str]] = {}

    def of(self, path: str) -> set[str]:
        known = self.found.get(path)
        if known is None:
            known = self.found[path] = self._of(path)
        return known

    def _of(self, path: str) -> set[str]:
        from agentfiles.core.globs import glob_base, matches

        glob = has_glob(path)
        found = set() if glob else set(self.exact.get(path, ()))  # two globs are compared as globs only
        for out in self._starting(path.rstrip("/") + "/"):  # under it, a folder
            found |= self.exact[out]
        if glob:  # what its glob matches
            base = glob_base(path)
            for out in self._starting(base + "/") if base else self.names:
                if matches(path, out):
                    found |= self.exact[out]
        parts = path.split("/")
        for depth in range(len(parts)):  # output globs whose literal folders hold it (or none: any)
            for out, task in self.globs.get("/".join(parts[:depth]), ()):
                if matches(out, path):
                    found.add(task)
        return found

    def _starting(self, prefix: str) -> list[str]:
        at = bisect.bisect_left(self.names, prefix)
        end = at
        while end < len(self.names) and self.names[end].startswith(prefix):
            end += 1
        return self.names[at:end]
