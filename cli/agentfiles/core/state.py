"""The derived state of every task (CONVENTION.md section 4), decided by hashes against handoff records.

Staleness follows DVC's rules: a step is current while its definition, every input and every output
hash as recorded, and every upstream step is done and is the run it saw. This module works on plain
facts (core/facts.py) so that a warm `agents status` never needs pydantic.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

from agentfiles.core.facts import Facts, HandoffFacts, TaskFacts
from agentfiles.core.fingerprint import FileHasher, expand_path_input, input_digests
from agentfiles.core.globs import OutputSet, matches
from agentfiles.core.graph import TaskGraph
from agentfiles.core.paths import has_glob
from agentfiles.core.records import record

State = Literal["pending", "blocked", "ready", "done", "stale", "failed", "rejected", "uncertain", "invalid"]
STATES: tuple[State, ...] = ("done", "stale", "ready", "pending", "blocked", "failed", "rejected", "uncertain", "invalid")
STATE_FILL = {  # the fill of each state in pictures of the graph (Mermaid, DOT, the HTML report)
    "done": "#d3f9d8",
    "stale": "#fff3bf",
    "ready": "#d0ebff",
    "pending": "#f1f3f5",
    "blocked": "#e5dbff",
    "failed": "#ffc9c9",
    "rejected": "#ffc9c9",
    "uncertain": "#ffd8a8",
    "invalid": "#ff8787",
}


@record
class TaskState:
    """A task's state (done, stale, ready, ...) and the reasons for it."""

    id: str
    state: State
    reasons: list[str] = field(default_factory=list)
    run: str | None = None
    definition: str | None = None
    isolation: str | None = None  # how the processes of its last run were confined: os | folder
    parts: dict[str, str] = field(default_factory=dict)  # the definition's parts (task, role, model, config)
    command: bool = False  # a command step (set where the task could run: ready, stale, done)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state,
            "reasons": self.reasons,
            "run": self.run,
            "definition": self.definition,
            "definition_parts": self.parts,
            "isolation": self.isolation,
        }


# The states of a need that its dependents cannot get past without a person (or a fix): they are `blocked`.
HELD: tuple[State, ...] = ("failed", "rejected", "uncertain", "blocked", "invalid")
_WORST_FIRST: tuple[State, ...] = ("invalid", "failed", "rejected", "uncertain", "blocked", "stale", "ready", "pending")


def _family(task_id: str, items: list[str], states: dict[str, TaskState]) -> TaskState:
    """A foreach task's state: done when every item is, else the worst of its items'."""
    from agentfiles.core.foreach import family_run

    if not items:
        return TaskState(task_id, "done", ["foreach matches no file"])
    found = [states[i] for i in items]
    runs = [s.run for s in found if s.run]
    run = family_run(runs) if len(runs) == len(found) else None
    if all(s.state == "done" for s in found):
        return TaskState(task_id, "done", [], run)
    worst = next(state for state in _WORST_FIRST if any(s.state == state for s in found))
    open_items = [s for s in found if s.state != "done"]
    reasons = [f"{len(found) - len(open_items)} of {len(found)} items done"]
    reasons += [f"{s.id}: {s.state}" + (f" ({s.reasons[0]})" if s.reasons else "") for s in open_items[:5]]
    return TaskState(task_id, worst, reasons, run)


@record
class Produced:
    """Every output the project's tasks declare: the paths, and apart the globs among them (found once for
    all the tasks that never ran, not once for each)."""

    paths: set[str]
    globs: list[str]

    @classmethod
    def of(cls, outputs: Iterable[str]) -> Produced:
        paths = set(outputs)
        return cls(paths, [p for p in paths if has_glob(p)])

    def makes(self, path: str) -> bool:
        """Whether some task declares `path` as an output, exactly or by a glob."""
        return path in self.paths or any(matches(g, path) for g in self.globs)


def missing_inputs(root: Path, inputs: list[list[str]], produced: Produced) -> list[str]:
    """Why a task that never ran cannot start, one reason per literal path input: it does not exist and
    no task declares it as an output, exactly or by a glob (no step will create it), or it is out of a
    step's reach (a symlink into .git or out of the repository), which `agents run` refuses."""
    from agentfiles.core.paths import Reach

    reasons: list[str] = []
    reach: Reach | None = None
    for kind, value in inputs:
        if kind == "path" and has_glob(value):
            reasons += _glob_out_of_reach(root, value)
        if kind != "path" or has_glob(value) or value in produced.paths:
            continue
        if not os.path.lexists(root / value):
            if not produced.makes(value):
                reasons.append(f"input missing: {value} (no task produces it)")
            continue
        reach = reach or Reach(root)
        why = reach.problem(value)
        if why:
            reasons.append(f"input {value} {why}")
    return reasons


def _glob_out_of_reach(root: Path, pattern: str) -> list[str]:
    """A glob input that matches files out of a step's reach (through a link into .git, or out of the
    repository), which `agents run` refuses: one reason, the first such file and how many more."""
    refused: list[tuple[str, str]] = []
    expand_path_input(root, pattern, refused)
    if not refused:
        return []
    more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
    return [f"input {pattern} matches {refused[0][0]}, which {refused[0][1]}{more}"]


def _out_of_reach(root: Path, task: TaskFacts, reasons: list[str]) -> list[str]:
    """Of a done task's inputs that changed, those that now lead out of a step's reach (replaced by a link
    into .git, say), which `agents run` refuses: the task is blocked on them, not stale."""
    from agentfiles.core.paths import Reach

    changed = {r.split(": ", 1)[1] for r in reasons if r.startswith(("input changed: ", "input missing: "))}
    if not changed:
        return []
    reach = Reach(root)
    found = []
    for kind, value in task.inputs:
        if kind != "path":
            continue
        if has_glob(value):
            found += _glob_out_of_reach(root, value)
        elif value in changed and (why := reach.problem(value)):
            found.append(f"input {value} {why}")
    return found


def _never_run(task_id: str, needs: list[str], states: dict[str, TaskState], missing: list[str]) -> TaskState:
    waiting = [n for n in needs if n not in states or states[n].state != "done"]
    if missing:
        return TaskState(task_id, "blocked", missing)
    if not waiting:
        return TaskState(task_id, "ready", ["never run"])
    stuck = [n for n in waiting if n not in states or states[n].state in HELD]
    if stuck:
        reasons = [
            f"need {n} is {states[n].state}" if n in states else f"need {n} does not exist" for n in stuck
        ]
        return TaskState(task_id, "blocked", reasons)
    return TaskState(task_id, "pending", [f"waiting for {n} ({states[n].state})" for n in waiting])


def _compare_done(
    root: Path,
    facts: Facts,
    task_id: str,
    handoff: HandoffFacts,
    states: dict[str, TaskState],
    hash_file: FileHasher,
    body_digests: dict[str, str],
) -> list[str]:
    task = facts.tasks[task_id]
    return local_reasons(root, task, handoff, hash_file, body_digests) + _upstream_reasons(task, handoff, states)


# The digest of a handoff input that the process comparing does not know (see local_reasons).
UNKNOWN = "?"


def local_reasons(
    root: Path,
    task: TaskFacts,
    handoff: HandoffFacts,
    hash_file: FileHasher,
    body_digests: dict[str, str],
    assumed: list[list[str | None]] | None = None,
) -> list[str]:
    """Why a done step is stale by what it is and what it read and wrote, all but its upstream steps. With
    `assumed`, a handoff input whose task `body_digests` maps to UNKNOWN is taken to be as recorded, and
    noted there ([task, recorded digest]): a process that read only some handoffs compares the rest, and
    the caller checks those notes against every handoff (the reasons hold only if each one does)."""
    reasons: list[str] = []
    if handoff.review_rejected is not None:
        why = f": {handoff.review_rejected}" if handoff.review_rejected else ""
        reasons.append(f"rejected in review{why}")
    reasons += definition_changes(task, handoff)
    current = input_digests(root, task.inputs, hash_file, body_digests)
    owned = OutputSet(task.outputs)
    for key in [k for k in current if k in owned]:  # a file the step may change is judged as its output
        current.pop(key)
    for key, digest in current.items():
        recorded = handoff.inputs.get(key)
        if digest == UNKNOWN and assumed is not None:
            assumed.append([key[len("handoff:"):], recorded])
        elif digest is None:
            if recorded is not None:
                reasons.append(f"input missing: {key}")
        elif recorded is None:
            reasons.append(f"input added: {key}")
        elif recorded != digest:
            reasons.append(f"input changed: {key}")
    for key in handoff.inputs:
        if key not in current and key not in owned:
            reasons.append(f"input removed: {key}")
    return reasons + _compare_outputs(root, owned, handoff, hash_file)


def _upstream_reasons(task: TaskFacts, handoff: HandoffFacts, states: dict[str, TaskState]) -> list[str]:
    reasons = []
    for need in task.needs:
        upstream = states.get(need)
        if upstream is None or upstream.state != "done":
            shown = upstream.state if upstream else "missing"
            reasons.append(f"upstream not done: {need} ({shown})")
            continue
        seen = handoff.upstream.get(need)
        if seen is not None and seen != upstream.run:
            reasons.append(f"upstream re-ran: {need}")
    return reasons


def definition_changes(task: TaskFacts, handoff: HandoffFacts) -> list[str]:
    """Why a step's definition is not what its handoff recorded, part by part where the handoff says what it
    was made of: `definition changed` (the task's own fields or intent), `role changed: developer`, `model
    changed: a -> b`, `config changed: max_turns`. A handoff without `definition` is not checked."""
    if handoff.definition is None:
        return []
    if not handoff.parts or not task.parts:
        return ["definition changed"] if handoff.definition != task.definition else []
    found = []
    changed = {part for part in ("task", "role", "model", "config") if handoff.parts.get(part) != task.parts.get(part)}
    if "task" in changed:
        found.append("definition changed")
    if "role" in changed and task.role:
        found.append(f"role changed: {task.role}")
    if "model" in changed and task.model:
        found.append(f"model changed: {handoff.model or '?'} -> {task.model}")
    if "config" in changed and "config" in handoff.parts and "config" in task.parts:
        found.append(f"config changed: {', '.join(task.config_keys) or 'settings'}")
    if not found and handoff.definition != task.definition:
        found.append("definition changed")
    return found


# The reasons that say a step is stale only because what it runs with changed, not what it is asked: the steps
# a progressive rollout (`agents run --canary`) covers.
ROLLOUT_REASONS = ("role changed: ", "model changed: ", "config changed: ")


def _compare_outputs(root: Path, owned: OutputSet, handoff: HandoffFacts, hash_file: FileHasher) -> list[str]:
    """How the files a step may change differ from what it left: each file it wrote, each it deleted,
    and, under its output globs, each it saw and kept (recorded as an input) and any file added since."""
    reasons: list[str] = []
    for path, recorded in handoff.outputs.items():
        digest = hash_file(path)
        if digest is None:
            reasons.append(f"output missing: {path}")
        elif digest != recorded:
            reasons.append(f"output modified: {path}")
    if not owned.has_globs and not handoff.deleted:
        return reasons
    left = {k: v for k, v in handoff.inputs.items() if k in owned}  # what it saw, then kept as it was
    left.update(handoff.outputs)
    for path in handoff.deleted:
        left.pop(path, None)
    now = {rel for pattern in owned.globs for rel in expand_path_input(root, pattern) if rel in owned}  # not CLAUDE.md
    for path in sorted(now | set(left) | set(handoff.deleted)):
        if path in handoff.outputs:
            continue
        digest = hash_file(path)
        if path not in left:  # new since the step, or back after it deleted it
            if digest is not None:
                reasons.append(f"output added: {path}")
        elif digest is None:
            reasons.append(f"output missing: {path}")
        elif digest != left[path]:
            reasons.append(f"output modified: {path}")
    return reasons


def derive_states(
    root: Path, facts: Facts, hash_file: FileHasher, local: dict[str, list[Any]] | None = None
) -> dict[str, TaskState]:
    """The state of every task, in dependency order (tasks on or after a cycle are `blocked`). `local`
    may hold, per done step, what `local_reasons` found in the process that read it: [reasons, assumed];
    those stand while every assumed handoff digest is the one recorded."""
    local = local or {}
    states: dict[str, TaskState] = {}
    body_digests = {tid: h.body_digest for tid, h in facts.handoffs.items()}
    graph = TaskGraph.from_needs({t: f.needs for t, f in facts.tasks.items()})
    order, cyclic = graph.order()
    produced: Produced | None = None  # every declared output, once a task that never ran needs it
    for task_id in order:
        task = facts.tasks[task_id]
        if task.family:
            states[task_id] = _family(task_id, task.needs, states)
            continue
        if task.invalid is not None:
            states[task_id] = TaskState(task_id, "invalid", [task.invalid])
            continue
        handoff = facts.handoffs.get(task_id)
        if handoff is None:
            if produced is None:
                produced = Produced.of(out for t in facts.tasks.values() for out in t.outputs)
            state = _never_run(task_id, task.needs, states, missing_inputs(root, task.inputs, produced))
            state.definition = task.definition
            state.parts = task.parts
            state.command = task.command
            states[task_id] = state
            continue
        if handoff.status == "failed":
            state = TaskState(task_id, "failed", [handoff.failure or "the last run failed"])
        elif handoff.status == "rejected":
            reasons = [f"verification failed: {c}" for c in handoff.failed_criteria] or ["rejected by the verifier"]
            state = TaskState(task_id, "rejected", reasons)
        elif handoff.status == "uncertain" and handoff.review_rejected is not None:
            why = f": {handoff.review_rejected}" if handoff.review_rejected else ""
            state = TaskState(task_id, "rejected", [f"rejected in review{why}"])
        elif handoff.status == "uncertain":
            detail = (handoff.failure or "").removeprefix("uncertain: ") or "its judges or samples disagree"
            state = TaskState(task_id, "uncertain", [detail, "awaiting review: `agents review`"])
        else:
            found = local.get(task_id)
            if found is not None and all(body_digests.get(t) == d for t, d in found[1]):
                reasons = found[0] + _upstream_reasons(task, handoff, states)
            else:
                reasons = _compare_done(root, facts, task_id, handoff, states, hash_file, body_digests)
            refused = _out_of_reach(root, task, reasons) if reasons else []
            state = TaskState(task_id, "blocked" if refused else "stale" if reasons else "done", refused or reasons)
        state.run = handoff.run
        state.definition = task.definition
        state.parts = task.parts
        state.command = task.command
        state.isolation = handoff.isolation
        states[task_id] = state
    for task_id in cyclic:
        states[task_id] = TaskState(task_id, "blocked", ["on or after a dependency cycle"])
    return states
