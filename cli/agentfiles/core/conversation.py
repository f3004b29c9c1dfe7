"""The conversation loop of a model step, independent of where answers come from: send the request, carry
out the tools of this kind of conversation (a doer's, core/tools.py; a verifier's
read_file / verdict, none for a discussion turn), add up usage and cost after every turn, and stop when the
conversation is finished, on a budget, on `max_turns` or on a deadline. The API executor and the replay
executor both drive it; only their `call` differs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import field
from typing import Any, Protocol

from agentfiles.core.context import StepContext
from agentfiles.core.models import Price
from agentfiles.core.records import record
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


@record
class Turn:
    request: dict[str, Any]
    response: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)  # failed tries before this answer


@record
class Outcome:
    ok: bool
    failure_kind: str | None = None
    failure_detail: str = ""
    finish: dict[str, str] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    turns: list[Turn] = field(default_factory=list)
    tool_log: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    text: str = ""  # the answer's text, for a conversation without tools (a discussion turn)
    verdict: list[dict[str, str]] = field(default_factory=list)  # a verifier's checks, one per criterion

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


@record
class Limits:
    max_turns: int
    usd: float | None = None
    context_tokens: int | None = None
    deadline: float | None = None  # time.monotonic() value


class Tools(Protocol):
    """The tools of one kind of conversation: how each call is carried out."""

    final: str  # the tool that ends the conversation

    def handle(self, use: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        """(result text, is an error, the conversation is finished)."""
        ...


def converse(
    first_request: dict[str, Any],
    call: Callable[[dict[str, Any]], tuple[dict[str, Any], list[dict[str, Any]]]],
    tools: Tools | None,
    limits: Limits,
    price: Price | None,
) -> Outcome:
    """Run the loop. `call(body)` returns the answer message (as the API's JSON) and the failed attempts
    before it, or raises CallFailed. Without `tools`, the first answer's text is the result."""
    outcome = Outcome(ok=False)
    totals = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    body = json.loads(json.dumps(first_request))
    for _ in range(limits.max_turns):
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
            return _fail(outcome, totals, price, "budget", f"spent ${spent:.4f}, over the step's budget of ${limits.usd:g}")
        if tools is None:
            outcome.text = "\n\n".join(b["text"] for b in content if b["type"] == "text").strip()
            outcome.ok = True
            outcome.usage = _usage(totals, price, len(outcome.turns))
            return outcome
        uses = [b for b in content if b["type"] == "tool_use"]
        if not uses:
            reason = message.get("stop_reason")
            why = "hit max_tokens" if reason == "max_tokens" else f"stopped ({reason})"
            return _fail(outcome, totals, price, "invalid_output", f"the model {why} without calling {tools.final}")
        results: list[dict[str, Any]] = []
        finished = False
        for use in uses:
            text, error, done = tools.handle(use, outcome)
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": use["id"], "content": text}
            if error:
                result["is_error"] = True
            results.append(result)
            finished = finished or done
        if finished:
            outcome.ok = True
            outcome.usage = _usage(totals, price, len(outcome.turns))
            return outcome
        for earlier in body["messages"]:
            for block in earlier["content"] if isinstance(earlier["content"], list) else []:
                if block.get("type") == "tool_result":
                    block.pop("cache_control", None)
        results[-1]["cache_control"] = {"type": "ephemeral"}  # the growing conversation is cached too
        body["messages"].append({"role": "user", "content": results})
    final = tools.final if tools else "an answer"
    return _fail(outcome, totals, price, "invalid_output", f"max_turns ({limits.max_turns}) reached without {final}")


def read_declared(
    path: str, files: dict[str, str], outlined: list[str], tools: Any, entry: dict[str, Any]
) -> tuple[str, bool, bool]:
    """read_file of a declared input (or, for a verifier, a proposed output): its text, or why not; an
    outlined input's full text only within the context budget."""
    if path not in files:
        entry["refused"] = "not a declared input"
        return f"refused: `{path}` is not a declared input of this step", True, False
    text = files[path]
    cost = estimate_tokens(text)
    limit = tools.limits.context_tokens
    if path in outlined and limit and tools.used_tokens + cost > limit:
        entry["refused"] = "over the context budget"
        return (
            f"refused: the full text of `{path}` (~{cost} tokens) would exceed this step's context budget "
            f"of {limit} tokens; work from its outline",
            True,
            False,
        )
    tools.used_tokens += cost
    return text, False, False


@record
class VerifierTools:
    """read_file (the step's inputs and proposed outputs) and verdict (one check per criterion)."""

    files: dict[str, str]
    criteria: list[str]
    limits: Limits
    final: str = "verdict"

    def __post_init__(self) -> None:
        self.used_tokens = 0

    def handle(self, use: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        name = use["name"]
        args = use.get("input") or {}
        entry: dict[str, Any] = {"tool": name}
        outcome.tool_log.append(entry)
        if name == "read_file":
            path = str(args.get("path", "")).strip().removeprefix("./")
            entry["path"] = path
            return read_declared(path, self.files, [], self, entry)
        if name != "verdict":
            entry["refused"] = "unknown tool"
            return f"refused: there is no tool `{name}`; use read_file or verdict", True, False
        checks = args.get("checks")
        if not isinstance(checks, list) or not all(isinstance(c, dict) for c in checks):
            entry["refused"] = "malformed verdict"
            return "refused: `checks` must be a list of {criterion, verdict, evidence}", True, False
        given: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        for check in checks:
            named = str(check.get("criterion", "")).strip()
            criterion = match_criterion(named, self.criteria)
            verdict = str(check.get("verdict", "")).strip().lower()
            evidence = str(check.get("evidence", "") or "").strip()
            if criterion is None:
                problems.append(f"`{named}` is not one of the criteria (give its number or its text)")
            elif criterion in given:
                problems.append(f"criterion {self.criteria.index(criterion) + 1} is judged twice; judge it once")
            elif verdict not in ("pass", "fail"):
                problems.append(f"the verdict on criterion {self.criteria.index(criterion) + 1} must be pass or fail")
            elif not evidence:
                problems.append(f"criterion {self.criteria.index(criterion) + 1} has no evidence: quote or point to it")
            else:
                given[criterion] = {"criterion": criterion, "verdict": verdict, "evidence": evidence}
        if problems:
            entry["refused"] = "malformed verdict"
            return "not accepted: " + "; ".join(problems), True, False
        missing = [c for c in self.criteria if c not in given]
        if missing:
            entry["refused"] = "criteria missing"
            listed = "; ".join(f"{self.criteria.index(c) + 1}. {c}" for c in missing)
            return f"not accepted: give a pass or fail verdict, with evidence, for each criterion; missing: {listed}", True, False
        outcome.verdict = [given[c] for c in self.criteria]
        return "verdict recorded", False, True


@record
class RouterTools:
    """choose_role (one of the candidates, with the reason): a router's one structured answer."""

    candidates: list[str]
    final: str = "choose_role"
    choice: dict[str, str] = field(default_factory=dict)

    def handle(self, use: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        args = use.get("input") or {}
        outcome.tool_log.append({"tool": use["name"], "role": args.get("role")})
        if use["name"] != "choose_role":
            return f"refused: there is no tool `{use['name']}`; call choose_role", True, False
        role = str(args.get("role", "")).strip()
        if role not in self.candidates:
            return f"refused: `{role}` is not a candidate; choose one of: {', '.join(self.candidates)}", True, False
        self.choice = {"role": role, "reason": str(args.get("reason", "")).strip()}
        return "routed", False, True


def router_tool(candidates: list[str]) -> dict[str, Any]:
    return {
        "name": "choose_role",
        "description": "Choose the role that should do this task, and say why in one sentence.",
        "input_schema": {
            "type": "object",
            "properties": {
                "role": {"type": "string", "enum": candidates},
                "reason": {"type": "string"},
            },
            "required": ["role", "reason"],
        },
    }


def turn_files(outcome: Outcome, prefix: str = "") -> dict[str, bytes]:
    """A conversation's exchanges as run-record files: requests/NNN.json and responses/NNN.json."""
    files: dict[str, bytes] = {}
    for number, turn in enumerate(outcome.turns, 1):
        files[f"{prefix}requests/{number:03d}.json"] = as_json(turn.request)
        if turn.response:
            files[f"{prefix}responses/{number:03d}.json"] = as_json(turn.response)
    return files


def as_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def match_criterion(text: str, criteria: list[str]) -> str | None:
    """The criterion a check names: its exact text, its number (`2`, `2.`), or a unique prefix."""
    text = text.strip()
    if text in criteria:
        return text
    number = text.rstrip(".").strip()
    if number.isdigit() and 1 <= int(number) <= len(criteria):
        return criteria[int(number) - 1]
    hits = [c for c in criteria if c.startswith(text) or text.startswith(c)] if text else []
    return hits[0] if len(hits) == 1 else None


def _usage(totals: dict[str, int], price: Price | None, turns: int) -> dict[str, Any]:
    return {**totals, "cost_usd": round(cost_of(totals, price), 6), "turns": turns}


def _fail(outcome: Outcome, totals: dict[str, int], price: Price | None, kind: str, detail: str) -> Outcome:
    outcome.ok = False
    outcome.failure_kind = kind
    outcome.failure_detail = detail
    outcome.usage = _usage(totals, price, len(outcome.turns))
    return outcome
