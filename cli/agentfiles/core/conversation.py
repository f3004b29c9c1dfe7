"""The agent loop of a model step, independent of where answers come from: send the context, carry out
the three tools against the step's declared files, add up usage and cost after every turn, and stop on
`finish`, on a budget, on `max_turns` or on a deadline. The API executor and the replay executor both
drive it; only their `call` differs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentfiles.core.context import StepContext
from agentfiles.core.models import Price
from agentfiles.core.tokens import estimate_tokens

FINISH_FIELDS = {
    "work_completed": "Work completed",
    "decisions": "Decisions",
    "open_questions": "Open questions",
    "next_steps": "Next steps",
}


class CallFailed(Exception):
    """The model could not be reached or kept failing; `kind` is `api` or `hang`."""

    def __init__(self, kind: str, detail: str, attempts: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.attempts = attempts or []


@dataclass
class Turn:
    request: dict[str, Any]
    response: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)  # failed tries before this answer


@dataclass
class Outcome:
    ok: bool
    failure_kind: str | None = None
    failure_detail: str = ""
    finish: dict[str, str] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    tool_log: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return self.finish.get("summary", "")

    @property
    def sections(self) -> dict[str, str]:
        return {title: self.finish[key] for key, title in FINISH_FIELDS.items() if self.finish.get(key)}


def cost_of(usage: dict[str, int], price: Price | None) -> float:
    if price is None:
        return 0.0
    return (
        usage.get("input_tokens", 0) * price.input
        + usage.get("output_tokens", 0) * price.output
        + usage.get("cache_creation_input_tokens", 0) * price.cache_write
        + usage.get("cache_read_input_tokens", 0) * price.cache_read
    ) / 1_000_000


def _clean_block(block: dict[str, Any]) -> dict[str, Any]:
    """A response content block as it may be sent back in the conversation."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": block.get("input") or {}}
    return {k: v for k, v in block.items() if v is not None}


@dataclass
class Limits:
    max_turns: int
    usd: float | None = None
    context_tokens: int | None = None
    deadline: float | None = None  # time.monotonic() value


def converse(
    context: StepContext,
    first_request: dict[str, Any],
    outputs: list[str],
    call: Callable[[dict[str, Any]], tuple[dict[str, Any], list[dict[str, Any]]]],
    write: Callable[[str, str], None],
    limits: Limits,
    price: Price | None,
) -> Outcome:
    """Run the loop. `call(body)` returns the answer message (as the API's JSON) and the failed attempts
    before it, or raises CallFailed; `write(path, text)` puts an output into the sandbox."""
    outcome = Outcome(ok=False)
    totals = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    body = json.loads(json.dumps(first_request))
    used_tokens = context.estimate()
    for turn_number in range(1, limits.max_turns + 1):
        if limits.deadline is not None and time.monotonic() > limits.deadline:
            return _fail(outcome, totals, price, "hang", "the step ran past its timeout between turns")
        try:
            message, attempts = call(body)
        except CallFailed as exc:
            outcome.turns.append(Turn(json.loads(json.dumps(body)), {}, exc.attempts))
            return _fail(outcome, totals, price, exc.kind, exc.detail)
        outcome.turns.append(Turn(json.loads(json.dumps(body)), message, attempts))
        usage = message.get("usage") or {}
        for key in totals:
            totals[key] += int(usage.get(key) or 0)
        spent = cost_of(totals, price)
        content = [_clean_block(b) for b in message.get("content") or []]
        body["messages"].append({"role": "assistant", "content": content})
        if limits.usd is not None and spent > limits.usd:
            return _fail(outcome, totals, price, "budget", f"spent ${spent:.4f}, over the step's budget of ${limits.usd:.2f}")
        uses = [b for b in content if b["type"] == "tool_use"]
        if not uses:
            reason = message.get("stop_reason")
            why = "hit max_tokens" if reason == "max_tokens" else f"stopped ({reason})"
            return _fail(outcome, totals, price, "invalid_output", f"the model {why} without calling finish")
        results: list[dict[str, Any]] = []
        finished = False
        for use in uses:
            text, error, done = _tool(use, context, outputs, outcome, write, limits, used_tokens)
            if use["name"] == "read_file" and not error:
                used_tokens += estimate_tokens(text)
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": use["id"], "content": text}
            if error:
                result["is_error"] = True
            results.append(result)
            finished = finished or done
        if finished:
            outcome.ok = True
            outcome.usage = _usage(totals, price, len(outcome.turns))
            return outcome
        results[-1]["cache_control"] = {"type": "ephemeral"}  # the growing conversation is cached too
        for message_ in body["messages"]:
            for block in message_["content"] if isinstance(message_["content"], list) else []:
                if block is not results[-1] and block.get("type") == "tool_result":
                    block.pop("cache_control", None)
        body["messages"].append({"role": "user", "content": results})
    return _fail(outcome, totals, price, "invalid_output", f"max_turns ({limits.max_turns}) reached without finish")


def _tool(
    use: dict[str, Any],
    context: StepContext,
    outputs: list[str],
    outcome: Outcome,
    write: Callable[[str, str], None],
    limits: Limits,
    used_tokens: int,
) -> tuple[str, bool, bool]:
    """(tool result text, is an error, finished)."""
    name = use["name"]
    args = use.get("input") or {}
    path = str(args.get("path", "")).strip().removeprefix("./")
    entry: dict[str, Any] = {"tool": name, "path": path or None}
    outcome.tool_log.append(entry)
    if name == "read_file":
        if path not in context.full_inputs:
            entry["refused"] = "not a declared input"
            return f"refused: `{path}` is not a declared input of this step", True, False
        text = context.full_inputs[path]
        cost = estimate_tokens(text)
        if path in context.outlined and limits.context_tokens and used_tokens + cost > limits.context_tokens:
            entry["refused"] = "over the context budget"
            return (
                f"refused: the full text of `{path}` (~{cost} tokens) would exceed this step's context budget "
                f"of {limits.context_tokens} tokens; work from its outline",
                True,
                False,
            )
        return text, False, False
    if name == "write_file":
        if path not in outputs:
            entry["refused"] = "not a declared output"
            return f"refused: `{path}` is not a declared output of this step; declared: {', '.join(outputs)}", True, False
        content = args.get("content")
        if not isinstance(content, str):
            entry["refused"] = "no content"
            return "refused: `content` must be the file's text", True, False
        write(path, content)
        outcome.written[path] = content
        entry["bytes"] = len(content.encode("utf-8"))
        return f"wrote `{path}` ({entry['bytes']} bytes)", False, False
    if name == "finish":
        missing = [o for o in outputs if o not in outcome.written]
        if missing:
            entry["refused"] = "outputs missing"
            return f"not finished: write these declared outputs first: {', '.join(missing)}", True, False
        if not str(args.get("summary", "")).strip():
            entry["refused"] = "no summary"
            return "not finished: `summary` is required", True, False
        outcome.finish = {k: str(v) for k, v in args.items() if isinstance(v, (str, int, float)) and str(v).strip()}
        return "finished", False, True
    entry["refused"] = "unknown tool"
    return f"refused: there is no tool `{name}`; use read_file, write_file or finish", True, False


def _usage(totals: dict[str, int], price: Price | None, turns: int) -> dict[str, Any]:
    return {**totals, "cost_usd": round(cost_of(totals, price), 6), "turns": turns}


def _fail(outcome: Outcome, totals: dict[str, int], price: Price | None, kind: str, detail: str) -> Outcome:
    outcome.ok = False
    outcome.failure_kind = kind
    outcome.failure_detail = detail
    outcome.usage = _usage(totals, price, len(outcome.turns))
    return outcome
