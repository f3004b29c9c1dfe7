"""The Claude Code executor: a logged-in `claude` CLI run headless (`-p`, JSON output) inside the step's
sandbox, with the same clean context as the API executor. The sandbox holds only the declared inputs;
what it writes is collected and checked by the runner exactly as for any other step."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any

from agentfiles.core.conversation import Limits, Outcome, Turn
from agentfiles.core.environment import is_secret
from agentfiles.executors.base import Runtime, StepRequest, StepResult
from agentfiles.executors.command import run_process

# Claude Code needs its own credentials; every other secret stays out of its environment.
PASSED_SECRETS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
SYSTEM_ARG_LIMIT = 100_000


def claude_available(environ: dict[str, str]) -> bool:
    return shutil.which("claude", path=environ.get("PATH")) is not None


class ClaudeCodeExecutor:
    name = "claude-code"

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self.environ = dict(os.environ if environ is None else environ)

    def execute(self, request: StepRequest, runtime: Runtime) -> StepResult:
        assert request.context is not None and request.first_request is not None
        started = time.monotonic()
        system = "\n\n".join(request.context.system)
        prompt = request.context.brief
        if len(system.encode("utf-8")) > SYSTEM_ARG_LIMIT:  # one argv string may not exceed 128 KiB on Linux
            prompt = f"{system}\n\n{prompt}"
            system = request.context.system[0]
        argv = [
            "claude", "-p", "--output-format", "json",
            "--model", request.model or "sonnet",
            "--max-turns", str(request.max_turns),
            "--permission-mode", "acceptEdits",
            "--allowedTools", "Read,Write,Edit,Glob,Grep",
            "--disallowedTools", "Bash,WebFetch,WebSearch",
            "--append-system-prompt", system,
        ]
        env = {k: v for k, v in request.env.items() if not k.startswith("AGENTS_") or k == "AGENTS_TASK"}
        for name in PASSED_SECRETS:
            if self.environ.get(name):
                env[name] = self.environ[name]
        env = {k: v for k, v in env.items() if not is_secret(k) or k in PASSED_SECRETS}
        code, out, err, seconds, timed_out = run_process(
            argv, str(runtime.sandbox), env, request.timeout, runtime.cancel, stdin=prompt.encode("utf-8"),
            track=runtime.track,
        )
        text = out.decode("utf-8", "replace")
        result = StepResult(
            ok=False,
            exit_code=code,
            stdout=text,
            stderr=err.decode("utf-8", "replace"),
            duration_s=round(time.monotonic() - started, 3),
            model=request.model,
            record={"command": "claude -p --output-format json ...", "model": request.model},
            files={"requests/001.json": (json.dumps(request.first_request, indent=2, ensure_ascii=False) + "\n").encode()},
        )
        if timed_out:
            result.failure_kind, result.failure_detail = "hang", f"claude still running after {request.timeout:g} s"
            return result
        data = _last_json(text)
        if data is None:
            result.failure_kind, result.failure_detail = "crash", f"claude gave no JSON result {_tail(code, err)}"
            return result
        result.usage = _usage(data)
        result.record.update({"session_id": data.get("session_id"), "subtype": data.get("subtype")})
        result.files["responses/001.json"] = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
        result.summary = str(data.get("result") or "").strip()
        if data.get("is_error") or data.get("subtype") not in (None, "success") or code != 0:
            kind = "invalid_output" if data.get("subtype") == "error_max_turns" else "crash"
            result.failure_kind = kind
            result.failure_detail = f"claude ended with {data.get('subtype') or 'an error'} (exit {code})"
            return result
        budget = request.budget.usd if request.budget else None
        if budget is not None and result.usage["cost_usd"] > budget:
            result.failure_kind = "budget"
            result.failure_detail = f"spent ${result.usage['cost_usd']:.4f}, over the step's budget of ${budget:g}"
            return result
        result.ok = True
        return result

    def converse(self, body: dict[str, Any], tools: Any, limits: Limits, price: Any, cancel: Any = None) -> Outcome:
        """A conversation that needs no files (a verifier's, a router's, a discussion turn): one headless
        `claude -p` call in an empty folder, everything it needs in the prompt. A structured answer
        (a verdict, a route) is asked for as JSON and handed to the conversation's tools as if called."""
        outcome = Outcome(ok=False)
        system, prompt = _body_text(body)
        final = getattr(tools, "final", None)
        if final == "verdict":
            prompt += VERDICT_FORMAT
        elif final == "choose_role":
            prompt += ROUTE_FORMAT
        argv = [
            "claude", "-p", "--output-format", "json", "--model", str(body.get("model") or "sonnet"),
            "--max-turns", "1", "--disallowedTools", "Bash,Edit,Write,WebFetch,WebSearch",
            "--append-system-prompt", system[:SYSTEM_ARG_LIMIT],
        ]
        env = {k: v for k, v in self.environ.items() if not is_secret(k) or k in PASSED_SECRETS}
        timeout = max(1.0, limits.deadline - time.monotonic()) if limits.deadline else None
        folder = tempfile.mkdtemp(prefix="agents-claude-")
        try:
            code, out, err, _, timed_out = run_process(argv, folder, env, timeout, cancel, stdin=prompt.encode("utf-8"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        data = _last_json(out.decode("utf-8", "replace"))
        outcome.turns.append(Turn(body, data or {}))
        if timed_out:
            return _failed(outcome, "hang", f"claude still running after {timeout:g} s")
        if data is None or data.get("is_error") or code != 0:
            return _failed(outcome, "crash", f"claude gave no result {_tail(code, err)}")
        outcome.usage = _usage(data)
        if limits.usd is not None and outcome.usage["cost_usd"] > limits.usd:
            return _failed(outcome, "budget",
                           f"spent ${outcome.usage['cost_usd']:.4f}, over the budget of ${limits.usd:g}")
        text = str(data.get("result") or "").strip()
        if tools is None:
            outcome.text, outcome.ok = text, True
            return outcome
        answer = _json_object(text)
        if answer is None:
            return _failed(outcome, "invalid_output", f"claude's answer held no JSON {final}")
        message, error, done = tools.handle({"id": "claude", "name": final, "input": answer}, outcome)
        if error or not done:
            return _failed(outcome, "invalid_output", f"claude's {final} was not accepted: {message}")
        outcome.ok = True
        return outcome


def _usage(data: dict[str, Any]) -> dict[str, Any]:
    """Tokens, cost and turns from Claude Code's JSON result, as a handoff records them."""
    usage = data.get("usage") or {}
    counted: dict[str, Any] = {
        key: int(usage.get(key) or 0)
        for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    }
    counted["cost_usd"] = float(data.get("total_cost_usd") or data.get("cost_usd") or 0.0)
    counted["turns"] = int(data.get("num_turns") or 1)
    return counted


def _tail(code: int | None, err: bytes) -> str:
    last = (err.decode("utf-8", "replace").strip().splitlines() or [""])[-1]
    return f"(exit {code})" + (f": {last[:200]}" if last else "")


def _failed(outcome: Outcome, kind: str, detail: str) -> Outcome:
    outcome.ok, outcome.failure_kind, outcome.failure_detail = False, kind, detail
    return outcome


VERDICT_FORMAT = (
    "\n\nAnswer with one JSON object and nothing else, of this shape: "
    '{"checks": [{"criterion": "<the criterion\'s number or text>", "verdict": "pass" or "fail", '
    '"evidence": "<what shows it>"}]}, one check per acceptance criterion, in order.'
)
ROUTE_FORMAT = '\n\nAnswer with one JSON object and nothing else: {"role": "<a candidate>", "reason": "<why>"}.'


def _body_text(body: dict[str, Any]) -> tuple[str, str]:
    """A Messages API request as Claude Code's system prompt and prompt."""
    system = "\n\n".join(b.get("text", "") for b in body.get("system") or [])
    content = body["messages"][0]["content"]
    prompt = content if isinstance(content, str) else "\n\n".join(b.get("text", "") for b in content if b.get("type") == "text")
    return system, prompt


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in an answer (bare, or in a code fence, or amid prose)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _last_json(text: str) -> dict[str, Any] | None:
    """The result object of `claude -p --output-format json` (the last JSON object printed)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                return data
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else None
    except ValueError:
        return None
