"""The Claude Code executor: a logged-in `claude` CLI run headless (`-p`, JSON output) inside the step's
sandbox, with the same clean context as the API executor. The sandbox holds only the declared inputs;
what it writes is collected and checked by the runner exactly as for any other step."""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any

from agentfiles.core.environment import is_secret
from agentfiles.executors.base import StepRequest, StepResult
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

    def execute(self, request: StepRequest) -> StepResult:
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
            argv, str(request.sandbox), env, request.timeout, request.cancel, stdin=prompt.encode("utf-8"),
            track=request.track,
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
            tail = (err.decode("utf-8", "replace").strip().splitlines() or [f"exit {code}"])[-1]
            result.failure_kind, result.failure_detail = "crash", f"claude gave no JSON result (exit {code}): {tail[:200]}"
            return result
        usage = data.get("usage") or {}
        result.usage = {
            "input_tokens": int(usage.get("input_tokens") or 0),
            "output_tokens": int(usage.get("output_tokens") or 0),
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
            "cache_creation_input_tokens": int(usage.get("cache_creation_input_tokens") or 0),
            "cost_usd": float(data.get("total_cost_usd") or data.get("cost_usd") or 0.0),
            "turns": int(data.get("num_turns") or 0),
        }
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
            result.failure_detail = f"spent ${result.usage['cost_usd']:.4f}, over the step's budget of ${budget:.2f}"
            return result
        result.ok = True
        return result


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
