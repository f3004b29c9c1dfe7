"""Discussion mode (`mode: discussion`): before the moderator (the task's role) writes the outputs, the
`participants` deliberate for `rounds` rounds. Every turn is a clean context of its own: the participant's
role prompt, the context files, the intent, criteria and inputs, and the previous round's positions;
never anyone's conversation. The final round's positions become a section of the moderator's brief."""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any, Callable

from agentfiles.core.context import assemble
from agentfiles.core.conversation import Limits, turn_files
from agentfiles.core.records import record
from agentfiles.core.usage import add_usage
from agentfiles.runner.agent import brief_of, role_plan

if TYPE_CHECKING:
    from agentfiles.core.project import Project
    from agentfiles.runner.resolve import ResolvedStep

DEFAULT_POSITION_TOKENS = 2000


@record
class Discussion:
    ok: bool = True
    failure_kind: str | None = None
    failure_detail: str = ""
    positions: list[dict[str, Any]] = field(default_factory=list)  # {round, role, position}
    usage: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def round(self, number: int) -> list[dict[str, Any]]:
        return [p for p in self.positions if p["round"] == number]

    def moderator_section(self) -> tuple[str, str]:
        last = max((p["round"] for p in self.positions), default=0)
        lines = [
            f"The participants deliberated for {last} round(s); their positions after the last round follow. "
            "You are the moderator: weigh them, decide, and write the outputs. Say in your handoff's "
            "decisions which positions you followed and why."
        ]
        for p in self.round(last):
            lines += ["", f"### {p['role']}", "", p["position"].strip() or "(no position given)"]
        return ("Discussion", "\n".join(lines))


def positions_section(positions: list[dict[str, Any]], number: int) -> tuple[str, str]:
    lines = [f"Each participant's position after round {number}, yours included. Revise yours in their light: "
             "agree where they are right, say where and why you still differ."]
    for p in positions:
        lines += ["", f"### {p['role']}", "", p["position"].strip() or "(no position given)"]
    return (f"Positions after round {number}", "\n".join(lines))


def discuss(
    project: Project, step: ResolvedStep, read: Callable[[str], str], executor: Any, cancel: Any = None
) -> Discussion:
    task = step.task
    result = Discussion()
    brief = brief_of(project, step)
    participants = task.participants
    for number in range(1, task.rounds + 1):
        previous = result.round(number - 1)
        for role in participants:
            if cancel is not None and cancel.is_set():
                result.ok, result.failure_kind, result.failure_detail = False, "interrupted", "the run was interrupted"
                return result
            model, budget, price, _ = role_plan(project, role)
            intro = (f"This is round {number} of {task.rounds} of a discussion among {', '.join(participants)}; "
                     f"you are `{role}`. The moderator `{task.role}` writes the outputs afterwards.")
            extra = [("Discussion", intro)]
            if previous:
                extra.append(positions_section(previous, number - 1))
            context = assemble(project.layout.root, project.roles[role].body, brief, read, extra, purpose="discuss")
            request = context.request(model, budget.output_tokens or DEFAULT_POSITION_TOKENS)
            tokens = context.estimate()
            if budget.context_tokens and tokens > budget.context_tokens:
                result.ok, result.failure_kind = False, "budget"
                result.failure_detail = (f"round {number}, `{role}`: the context is ~{tokens} tokens, over the "
                                         f"budget of {budget.context_tokens}")
                return result
            limits = Limits(max_turns=1, usd=budget.usd, context_tokens=budget.context_tokens)
            outcome = executor.converse(request, None, limits, price, cancel)
            result.files.update(turn_files(outcome, f"discussion/round-{number}/{role}/"))
            result.usage = add_usage(result.usage, outcome.usage)
            if not outcome.ok:
                result.ok, result.failure_kind = False, outcome.failure_kind
                result.failure_detail = f"round {number}, `{role}`: {outcome.failure_detail}"
                return result
            result.positions.append({"round": number, "role": role, "position": outcome.text, "model": model,
                                     "usage": outcome.usage})
    return result
