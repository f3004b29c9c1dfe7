"""A progressive rollout's plan (`agents run --canary N`, `--canary-pick`, `--wave M`): of the planned steps
stale only because their role, model or config changed, a few canaries run first, then the rest in
waves; every other planned step runs in the first phase whose steps it needs, or in the last."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from agentfiles.core.records import record
from agentfiles.core.state import ROLLOUT_REASONS
from agentfiles.errors import UsageError

if TYPE_CHECKING:
    from agentfiles.core.plan import PlannedStep
    from agentfiles.core.state import TaskState


@record
class RolloutRequest:
    """What the user asked for: `canary` steps first (or those named by `pick`), then waves of `wave`."""

    canary: int | None = None
    pick: list[str] = field(default_factory=list)
    wave: int | None = None


@record
class RolloutPlan:
    """A rollout's phases: the canaries first, then each wave."""

    id: str
    candidates: list[str]  # stale only because their role, model or config changed
    canaries: list[str]
    phases: list[list[str]]  # planned steps: the canaries (and what they need) first, then each wave

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "candidates": self.candidates, "canaries": self.canaries, "phases": self.phases}


def new_rollout_id() -> str:
    import secrets

    return "rollout-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def is_candidate(state: TaskState, earlier: set[str] | frozenset[str] = frozenset()) -> bool:
    """Stale, and only because what it runs with changed (its role, model or config), not what it is asked
    or what it reads; besides, it may wait for `earlier` candidates (`upstream not done: t (stale)`)."""
    own = [r for r in state.reasons if r.startswith(ROLLOUT_REASONS)]
    rest = [r for r in state.reasons if not r.startswith(ROLLOUT_REASONS)]
    return state.state == "stale" and bool(own) and all(_waits_for(r, earlier) for r in rest)


def _waits_for(reason: str, earlier: set[str] | frozenset[str]) -> bool:
    for prefix in ("upstream not done: ", "upstream re-ran: "):
        if reason.startswith(prefix):
            return reason[len(prefix):].split(" (", 1)[0] in earlier
    return False


def plan_rollout(plan: list[PlannedStep], states: dict[str, TaskState], request: RolloutRequest) -> RolloutPlan:
    """Split `plan` into phases. Refused (exit 2) when nothing in it is stale only because of a role, model
    or config change, or when `--canary-pick` names a step that is not."""
    order = [s.task for s in plan]
    needs = {s.task: s.needs for s in plan}
    candidates: list[str] = []
    for task in order:  # in dependency order, so what a candidate waits for is decided before it
        if is_candidate(states[task], set(candidates)):
            candidates.append(task)
    if not candidates:
        raise UsageError(
            "nothing to roll out: no planned step is stale only because its role, model or config changed",
            hint="`agents status` says why each task is stale; run without --canary/--wave to run them all",
        )
    if request.pick:
        wrong = [t for t in request.pick if t not in candidates]
        if wrong:
            why = "; ".join(f"{t}: " + ("not planned (done, or not in scope)" if t not in states or t not in needs
                                        else ", ".join(states[t].reasons) or states[t].state) for t in wrong[:3])
            raise UsageError(
                f"--canary-pick names {len(wrong)} step(s) that are not stale only because of a role, model or "
                f"config change: {why}",
                hint="the candidates: " + ", ".join(candidates[:10]) + (" ..." if len(candidates) > 10 else ""),
            )
        canaries = [t for t in candidates if t in request.pick]
    else:
        count = request.canary or request.wave or len(candidates)
        canaries = candidates[:count]
    assigned: set[str] = set()

    def phase_of(tasks: list[str]) -> list[str]:
        wanted: set[str] = set()
        stack = list(tasks)
        while stack:
            task = stack.pop()
            if task not in wanted and task not in assigned:
                wanted.add(task)
                stack.extend(needs[task])
        assigned.update(wanted)
        return [t for t in order if t in wanted]

    phases = [phase_of(canaries)]
    rest = [t for t in candidates if t not in assigned]
    size = request.wave or len(rest) or 1
    for start in range(0, len(rest), size):
        phases.append(phase_of(rest[start:start + size]))
    leftover = [t for t in order if t not in assigned]
    if leftover:
        if len(phases) == 1:
            phases.append([])
        phases[-1] = [t for t in order if t in set(phases[-1]) | set(leftover)]
    return RolloutPlan(new_rollout_id(), candidates, canaries, [p for p in phases if p])
