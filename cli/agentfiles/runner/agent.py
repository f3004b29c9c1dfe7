"""Preparing a model step: which role does it and with which model, under which budget, and exactly what
context it is sent. Used by a run, by `agents run --dry-run` and by `agents replay`."""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agentfiles.core.context import Brief, StepContext, assemble
from agentfiles.core.fingerprint import expand_path_input
from agentfiles.core.handoffs import Candidate, Routing
from agentfiles.core.models import Budget, Price
from agentfiles.core.prompt_cache import shared_inputs
from agentfiles.core.records import record
from agentfiles.core.routing import RouteProblem, route_by_labels, score_roles
from agentfiles.core.tools import offered_tools, tool_schemas
from agentfiles.errors import ConventionError

if TYPE_CHECKING:
    from agentfiles.core.models import Task
    from agentfiles.core.project import Project
    from agentfiles.runner.resolve import ResolvedStep

DEFAULT_OUTPUT_TOKENS = 8000


@record
class AgentPlan:
    role: str
    model: str
    budget: Budget
    price: Price | None
    max_turns: int
    routing: Routing | None
    context: StepContext
    request: dict[str, Any]
    tokens: int  # the context's estimated tokens
    tools: list[str] = field(default_factory=list)  # the doer's tools its role allows (core/tools.py)

    def over_budget(self) -> str | None:
        """Why the context does not fit its budget, naming the largest parts, or None when it fits."""
        limit = self.budget.context_tokens
        if not limit or self.tokens <= limit:
            return None
        largest = ", ".join(f"{p.label} (~{p.tokens} tokens)" for p in self.context.largest(4))
        return (
            f"the context is ~{self.tokens} tokens, over the budget of {limit}; largest: {largest}. "
            "Use `view: outline` for large inputs, or split the task"
        )


def choose_role(
    project: Project, step_id: str, task: Task, routing: Routing | None = None
) -> tuple[str, Routing | None]:
    """The role that does a step: its `role`, else the routing decision made for it (by a router model,
    at run time), else the one role its `select` labels name. Without a decision a `route: model` task
    is previewed with its best label candidate."""
    if task.role:
        return task.role, None
    if routing is not None:
        return routing.role, routing
    assert task.select is not None
    roles = {n: e.model for n, e in project.roles.items() if n not in project.verifiers_of(task)}
    if task.route == "model":
        candidates = score_roles(task.select, roles)
        if not candidates:
            raise ConventionError(f"cannot route step {step_id}: there are no roles", hint="`agents new role NAME`")
        return candidates[0].role, Routing(
            role=candidates[0].role, method="model", candidates=candidates,
            reason="preview only: a router model chooses at run time (shown: the best label match)",
        )
    decision = route_by_labels(task.select, roles)
    if isinstance(decision, RouteProblem):
        raise ConventionError(f"cannot route step {step_id}: {decision.message}", hint="adjust the task's `select` labels")
    return decision.role, decision


def router_request(project: Project, step: ResolvedStep) -> tuple[dict[str, Any], list[Candidate]]:
    """The request that asks a router model to choose the role of a `route: model` task: the task's
    title, intent and wanted labels, and every candidate role (not the verifier) with its description,
    labels and label score."""
    from agentfiles.core.conversation import router_tool

    task = step.task
    roles = {n: e.model for n, e in project.roles.items() if n not in project.verifiers_of(task)}
    scored = score_roles(task.select or {}, roles)
    best = max((c.score for c in scored), default=0.0)
    # The router breaks ties among the best label matches; with no match at all, every role may be chosen.
    candidates = [c for c in scored if c.score == best] if best > 0 else scored
    wanted = ", ".join(f"{k}={v}" for k, v in (task.select or {}).items()) or "(none)"
    intent = re.sub(r"\A\s*#{1,3}\s*Intent\s*\n", "", step.intent).strip()
    lines = [f"# Route step `{step.step_id}`: {task.title}", "## Intent", intent or "(none given)",
             "## Wanted labels", wanted, "## Candidate roles"]
    for c in candidates:
        labels = ", ".join(f"{k}={'|'.join(v)}" for k, v in roles[c.role].labels().items()) or "none"
        lines.append(f"- `{c.role}`: {roles[c.role].description} (labels: {labels}; label score {c.score:g})")
    lines.append("Choose the one role best suited to do this task; call `choose_role` with it and the reason.")
    body = {
        "model": project.config.resolve_model(task.model),
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You route tasks to the role best suited to do them. You do not do the task.",
                    "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "\n\n".join(lines) + "\n"}]}],
        "tools": [router_tool([c.role for c in candidates])],
        "stream": True,
    }
    return body, candidates


def brief_of(project: Project, step: ResolvedStep, owned: list[str] | None = None) -> Brief:
    """The step's brief; `owned`: the files its output globs match, when not the repository's now (a
    replay: what they matched when the step started, not what it left)."""
    task = step.task
    handoffs = []
    for spec in task.inputs:
        if spec.handoff is not None and spec.handoff in project.handoffs:
            handoffs.append((spec.handoff, project.handoffs[spec.handoff].body))
    inputs = input_views(project.layout.root, step)
    common = shared_inputs(project, step.task_id, step.item is not None, [v[0] for v in inputs])  # first
    from agentfiles.runner.globs import owned_files

    return Brief(
        step_id=step.step_id,
        title=task.title,
        intent=step.intent,
        criteria=task.prose_criteria,
        checks=[c.run for c in task.checks if c.run],
        outputs=list(task.outputs),
        owned=owned_files(project.layout.root, list(task.outputs)) if owned is None else owned,
        inputs=[v for v in inputs if v[0] in common] + [v for v in inputs if v[0] not in common],
        handoffs=handoffs,
        shared=sum(1 for v in inputs if v[0] in common),
    )


def input_views(root: Path, step: ResolvedStep) -> list[tuple[str, str]]:
    """(file, view) for every path input, globs expanded in declared order."""
    views: list[tuple[str, str]] = []
    seen: set[str] = set()
    for spec in step.task.inputs:
        if spec.path is None:
            continue
        for rel in expand_path_input(root, spec.path):
            if rel not in seen:
                seen.add(rel)
                views.append((rel, spec.view))
    return views


def agent_plan(
    project: Project,
    step: ResolvedStep,
    read: Callable[[str], str],
    extra: list[tuple[str, str]] | None = None,
    routing: Routing | None = None,
    purpose: str = "do",
    owned: list[str] | None = None,
) -> AgentPlan:
    """Role, model, budget and the exact first request of a model step; `purpose` is `claude-code` for
    a step Claude Code carries out (its own tools instead of ours)."""
    config = project.config
    task = step.task
    role_name, routing = choose_role(project, step.step_id, task, routing)
    entry = project.roles.get(role_name)
    if entry is None:
        raise ConventionError(f"step {step.step_id}: unknown role '{role_name}'", hint="`agents roles` lists the roles")
    role = entry.model
    model = project.model_of(task, role)
    budget = (task.budget or Budget()).over(role.agents.budget).over(config.budget)
    max_turns = task.max_turns or role.agents.max_turns or role.maxTurns or config.max_turns
    offered = offered_tools(role.tools, list(task.outputs), role.disallowedTools)
    brief = brief_of(project, step, owned)
    context = assemble(project.layout.root, entry.body, brief, read, extra or [], purpose, offered)
    if purpose == "do":
        context.tools = tool_schemas(offered)
    request = context.request(model, budget.output_tokens or DEFAULT_OUTPUT_TOKENS)
    return AgentPlan(
        role=role_name,
        model=model,
        budget=budget,
        price=config.price(model),
        max_turns=max_turns,
        routing=routing,
        context=context,
        request=request,
        tokens=context.estimate(),
        tools=offered,
    )


def role_plan(project: Project, role_name: str, task: Task | None = None) -> tuple[str, Budget, Price | None, int]:
    """Model, budget, price and max turns of a role working outside its own task (a verifier, a
    discussion participant): the role's own settings over the config's."""
    config = project.config
    role = project.roles[role_name].model
    model = config.resolve_model(role.model)
    budget = (role.agents.budget or Budget()).over(config.budget)
    max_turns = role.agents.max_turns or role.maxTurns or config.max_turns
    return model, budget, config.price(model), max_turns


@record
class Section:
    """One part of a recorded conversation as a person reads it: a system block, one block of a message,
    the tools line of a request, or the start of a later request (`turn`, with `text` None)."""

    turn: int  # the request it first appears in, from 1
    kind: str  # system, user, assistant, tools, turn
    heading: str
    text: str | None = None

    def render(self) -> str:
        label = f"request {self.turn}: " if self.turn > 1 and self.kind in ("user", "assistant") else ""
        return f"===== {label}{self.heading} =====" + (f"\n{self.text}" if self.text is not None else "")


def _message_sections(messages: list[dict[str, Any]], turn: int) -> list[Section]:
    import json

    out: list[Section] = []
    for message in messages:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                out.append(Section(turn, message["role"], message["role"], block["text"]))
            elif kind == "tool_use" and isinstance(block.get("input"), dict):  # a call, its arguments as written
                args = "\n".join(f"{k}: {v}" if isinstance(v, str) and "\n" not in v else
                                 f"{k}:\n{v}" if isinstance(v, str) else f"{k}: {json.dumps(v, ensure_ascii=False)}"
                                 for k, v in block["input"].items())
                out.append(Section(turn, message["role"], f"{message['role']} (tool_use {block.get('name')}, "
                                   f"{block.get('id')})", args))
            elif kind == "tool_result" and isinstance(block.get("content"), str):  # what the call gave back
                error = ", error" if block.get("is_error") else ""
                out.append(Section(turn, message["role"], f"{message['role']} (tool_result {block.get('tool_use_id')}"
                                   f"{error})", block["content"]))
            else:
                shown = {k: v for k, v in block.items() if k != "cache_control"}
                out.append(Section(turn, message["role"], f"{message['role']} ({kind})",
                                   json.dumps(shown, indent=2, ensure_ascii=False)))
    return out


def request_sections(request: dict[str, Any]) -> list[Section]:
    """A request as a person reads it: each system block, then each message, verbatim, then its tools."""
    out: list[Section] = []
    for number, block in enumerate(request.get("system") or [], 1):
        cached = "  [cache breakpoint]" if block.get("cache_control") else ""
        out.append(Section(1, "system", f"system {number}{cached}", block.get("text", "")))
    out += _message_sections(request.get("messages") or [], 1)
    tools = ", ".join(t["name"] for t in request.get("tools") or []) or "none"
    out.append(Section(1, "tools", f"tools: {tools}; model {request.get('model')}, max_tokens {request.get('max_tokens')}"))
    return out


def conversation_sections(requests: list[dict[str, Any]]) -> list[Section]:
    """Every request of a conversation: the first in full, then for each later turn only what was added
    (the model's previous answer and the results of its tool calls)."""
    if not requests:
        return []
    out = request_sections(requests[0])
    for number in range(1, len(requests)):
        before = len(requests[number - 1].get("messages") or [])
        added = (requests[number].get("messages") or [])[before:]
        out.append(Section(number + 1, "turn", f"request {number + 1}: {len(added)} message(s) added"))
        out += _message_sections(added, number + 1)
    return out


def render_request(request: dict[str, Any]) -> str:
    return "\n\n".join(s.render() for s in request_sections(request)) + "\n"


def render_conversation(requests: list[dict[str, Any]]) -> str:
    sections = conversation_sections(requests)
    return "\n\n".join(s.render() for s in sections) + "\n" if sections else ""
