"""The Claude Code executor: a step (or a verifier's, router's or discussion turn's conversation) carried
out by a logged-in `claude` CLI run headless, locked down to the step (executors/claude_session.py) and
given the same clean context as the API executor. Its JSON result says how it went: usage and cost,
API errors with their status and message, budget and turn limits, and every tool use it refused."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from agentfiles.core.conversation import Limits, Outcome, Turn
from agentfiles.core.environment import is_secret
from agentfiles.core.globs import OutputSet
from agentfiles.core.scratch import scratch_folder
from agentfiles.core.tools import claude_tools
from agentfiles.executors.base import Runtime, StepRequest, StepResult
from agentfiles.executors.claude_session import (
    Program,
    Session,
    find_claude,
    lockdown,
    login,
    run_session,
    session_env,
)
from agentfiles.executors.isolation import Isolation, choose_mode
from agentfiles.executors.shell import FOLDER_REFUSAL, discard_undeclared, read_only_parts, tree_of

SYSTEM_ARG_LIMIT = 100_000  # one argv string may not exceed 128 KiB on Linux
NO_NETWORK = ("claude's commands would share the network claude keeps for its API and could reach the credentials "
              "it runs with, so it gets Bash only for a task that may use the network: `network: true` in the task, "
              "its role's `agents:` or the config")
DEFAULT_TIMEOUT_S = 1800.0  # a Claude Code step without `timeout:` is stopped after 30 minutes
CONVERSE_TIMEOUT_S = 600.0  # a verifier's, router's or discussion turn's session without a deadline
DEFAULT_RETRIES = 4


def claude_available(environ: dict[str, str]) -> bool:
    return shutil.which("claude", path=environ.get("PATH")) is not None


class ClaudeCodeExecutor:
    name = "claude-code"

    def __init__(
        self,
        environ: dict[str, str] | None = None,
        retries: int = DEFAULT_RETRIES,
        isolation: str = "auto",
        root: Path | None = None,
    ) -> None:
        """`retries`: API retries within a session (`api.retries`); `isolation` (`isolation` of the config)
        and `root` (the repository, kept out of view) confine the conversations that belong to no step's
        request: verifiers, routers, discussion turns. A `claude` without the flags that lock it down, or
        an expired login, stops the run here, before any step."""
        self.environ = dict(os.environ if environ is None else environ)
        self.program: Program = find_claude(self.environ)
        self.credentials, self.credentials_from = login(self.environ)
        self.retries = retries
        self.isolation_setting = isolation
        self.root = root
        self._converse_isolation: Isolation | None = None

    # ------------------------------------------------------------------------------------- a step

    def execute(self, request: StepRequest, runtime: Runtime) -> StepResult:
        assert request.context is not None and request.first_request is not None
        started = time.monotonic()
        system = "\n\n".join(request.context.system)
        prompt = request.context.brief
        if len(system.encode("utf-8")) > SYSTEM_ARG_LIMIT:
            prompt = f"{system}\n\n{prompt}"
            system = request.context.system[0]
        # Bash only inside the OS sandbox, and only where the task may use the network: claude's commands share
        # the network claude keeps for its API, and can reach the credentials it runs with.
        shell = request.isolation.mode == "os" and request.isolation.network
        tools = claude_tools(request.tools, shell) if request.tools else None
        args = [
            *lockdown(True, list(request.outputs), tools),
            "--model", request.model or "sonnet",
            "--max-turns", str(request.max_turns),
            *_budget_args(request.budget.usd if request.budget else None),
            "--append-system-prompt", system,
        ]
        timeout = request.timeout or DEFAULT_TIMEOUT_S
        env = session_env(request.env, self.credentials, self.retries)
        before, folders = tree_of(runtime.sandbox)
        owned = OutputSet(request.outputs)
        bash = tools is not None and "Bash" in tools
        session = run_session(self.program, args, prompt, runtime.sandbox, request.isolation, env, timeout,
                              runtime.cancel, runtime.track, read_only_parts(runtime.sandbox, owned, (before, folders)) if bash else None)
        discarded = discard_undeclared(runtime.sandbox, before, folders, owned) if bash else []
        result = StepResult(
            ok=False, exit_code=session.code, stdout=session.stdout, stderr=session.stderr,
            duration_s=round(time.monotonic() - started, 3), model=request.model,
            record=self._record(session, request.isolation, timeout, request.model),
            files={"requests/001.json": _as_json(request.first_request)},
        )
        if discarded:  # what its commands wrote outside the step's outputs (caches, build files): not kept
            result.record["discarded"] = discarded
        if request.tools and "run" in request.tools and not shell:
            result.record["refused_tools"] = {"Bash": FOLDER_REFUSAL if request.isolation.mode != "os" else NO_NETWORK}
        data = session.data
        if data is not None:
            result.usage = usage_of(data)
            result.files["responses/001.json"] = _as_json(data)
            result.summary = str(data.get("result") or "").strip()
            denied = denials(data, runtime.sandbox)
            if denied:
                result.record["permission_denials"] = denied
                result.sections["Refused by Claude Code"] = "\n".join(
                    f"- {d['tool']} `{d['target']}`" for d in denied)
        failure = failure_of(session, timeout)
        budget = request.budget.usd if request.budget else None
        if failure is None and budget is not None and result.usage["cost_usd"] > budget:
            failure = "budget", f"spent ${result.usage['cost_usd']:.4f}, over the step's budget of ${budget:g}"
        if failure is not None:
            result.failure_kind, result.failure_detail = failure
            return result
        result.ok = True
        return result

    # ------------------------------------------------------------------------- a conversation

    def converse(self, body: dict[str, Any], tools: Any, limits: Limits, price: Any, cancel: Any = None) -> Outcome:
        """A conversation that writes no files (a verifier's, a router's, a discussion turn): one session in
        a folder of its own holding only the files the conversation may read (a verifier's inputs and
        proposed outputs), everything else in the prompt. A structured answer (a verdict, a route) comes
        through `--json-schema` (claude's StructuredOutput tool) with the schema of the conversation's
        final tool, and is handed to that tool as if it had been called. Its cost counts even when it fails."""
        outcome = Outcome(ok=False)
        system, prompt = _body_text(body)
        final = getattr(tools, "final", None)
        schema = next((t.get("input_schema") for t in body.get("tools") or [] if t.get("name") == final), None)
        files = {rel: text for rel, text in (getattr(tools, "files", None) or {}).items() if _plain(rel)}
        if files:
            prompt += ("\n\nThe inputs and proposed outputs named above are files in your working folder: where "
                       "this brief says `read_file`, use your Read tool.")
        if final:
            prompt += (f"\n\nGive your answer (`{final}` above) by calling the StructuredOutput tool once, with "
                       f"the fields of `{final}`.")
        args = [*lockdown(bool(files), []), "--model", str(body.get("model") or "sonnet"),
                "--max-turns", str(limits.max_turns), *_budget_args(limits.usd),
                "--append-system-prompt", system[:SYSTEM_ARG_LIMIT]]
        if schema is not None:
            args += ["--json-schema", json.dumps(schema)]
        timeout = max(1.0, limits.deadline - time.monotonic()) if limits.deadline else CONVERSE_TIMEOUT_S
        env = session_env(self.environ, self.credentials, self.retries)
        folder = Path(scratch_folder("claude")) / "work"  # its /etc view goes beside it
        folder.mkdir()
        try:
            for rel, text in files.items():
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).write_text(text, encoding="utf-8")
            session = run_session(self.program, args, prompt, folder, self.converse_isolation(), env, timeout, cancel)
        finally:
            shutil.rmtree(folder.parent, ignore_errors=True)
        data = session.data or {}
        outcome.turns.append(Turn(body, data))
        outcome.usage = usage_of(data) if data else {}
        failure = failure_of(session, timeout)
        if failure is None and limits.usd is not None and outcome.usage["cost_usd"] > limits.usd:
            failure = "budget", f"spent ${outcome.usage['cost_usd']:.4f}, over the budget of ${limits.usd:g}"
        if failure is not None:
            return _failed(outcome, *failure)
        text = str(data.get("result") or "").strip()
        if tools is None:
            outcome.text, outcome.ok = text, True
            return outcome
        answer = data.get("structured_output")
        if not isinstance(answer, dict):
            answer = _json_object(text)
        if answer is None:
            return _failed(outcome, "invalid_output", f"claude gave no {final} (no structured output)")
        message, error, done = tools.handle({"id": "claude", "name": final, "input": answer}, outcome)
        if error or not done:
            return _failed(outcome, "invalid_output", f"claude's {final} was not accepted: {message}")
        outcome.ok = True
        return outcome

    def converse_isolation(self) -> Isolation:
        """The OS sandbox for conversations where it runs (and the config does not say `folder`)."""
        if self._converse_isolation is None:
            mode, _ = choose_mode(self.isolation_setting)
            hide = (str(self.root),) if self.root is not None else ()
            self._converse_isolation = Isolation(mode, network=True, hide=hide)
        return self._converse_isolation

    def _record(self, session: Session, isolation: Isolation, timeout: float, model: str | None) -> dict[str, Any]:
        """What the run record says of the session: the whole argv, the program, how it authenticated, the
        environment it had and the secrets it did not get, and its confinement (with the network)."""
        withheld = sorted(n for n in self.environ if is_secret(n) and n not in session.env)
        return {
            "command": "claude -p --output-format json ...",
            "argv": session.argv,
            "claude": {"path": self.program.path, "version": self.program.version,
                       "credentials": self.credentials_from, "timeout_s": timeout},
            "model": model,
            "session_id": (session.data or {}).get("session_id"),
            "subtype": (session.data or {}).get("subtype"),
            "isolation": {**isolation.to_json(), "network": True},
            "env": sorted(session.env),
            "env_withheld": withheld,
        }


def failure_of(session: Session, timeout: float) -> tuple[str, str] | None:
    """(kind, detail) of a session that did not succeed, from claude's JSON result: `api` for an API
    error (with its status and message) or a missing login, `budget` for `--max-budget-usd`,
    `invalid_output` for the turn limit, `hang` for the timeout, `crash` for the rest."""
    data = session.data
    if session.timed_out:
        return "hang", f"claude still running after {timeout:g} s; its process tree was killed"
    if data is None:
        last = (session.stderr.strip().splitlines() or [""])[-1][:300]
        return "crash", f"claude gave no JSON result (exit {session.code})" + (f": {last}" if last else "")
    subtype = data.get("subtype")
    errors = data.get("errors")
    text = str(data.get("result") or "; ".join(str(e) for e in errors or []) or "no message").strip()[:1000]
    status = data.get("api_error_status")
    if status:
        kind = data.get("api_error_type")
        return "api", f"the API answered {status}" + (f" ({kind})" if kind else "") + f": {text}"
    if data.get("terminal_reason") == "api_error":  # no answer at all: not logged in, endpoint unreachable
        return "api", f"claude could not use the API: {text}"
    if subtype == "error_max_budget_usd":
        return "budget", f"claude stopped at its budget: {text} (spent ${float(data.get('total_cost_usd') or 0):.4f})"
    if subtype == "error_max_turns":
        return "invalid_output", f"claude ended with error_max_turns: {text}"
    if data.get("is_error") or subtype not in (None, "success") or session.code != 0:
        return "crash", f"claude ended with {subtype or 'an error'} (exit {session.code}): {text}"
    return None


def usage_of(data: dict[str, Any]) -> dict[str, Any]:
    """Tokens, cost and turns from Claude Code's JSON result, as a handoff records them."""
    usage = data.get("usage") or {}
    counted: dict[str, Any] = {
        key: int(usage.get(key) or 0)
        for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    }
    counted["cost_usd"] = float(data.get("total_cost_usd") or data.get("cost_usd") or 0.0)
    counted["turns"] = int(data.get("num_turns") or 1)
    return counted


def denials(data: dict[str, Any], folder: Path) -> list[dict[str, str]]:
    """The tool uses claude refused (`permission_denials`): the tool and what it aimed at, paths inside
    the step's folder shown relative to it."""
    out: list[dict[str, str]] = []
    inside = str(folder).rstrip("/") + "/"
    for denial in data.get("permission_denials") or []:
        if not isinstance(denial, dict):
            continue
        given = denial.get("tool_input")
        given = given if isinstance(given, dict) else {}
        target = next((str(given[k]) for k in ("file_path", "path", "pattern", "command", "url") if k in given), "")
        out.append({"tool": str(denial.get("tool_name", "?")), "target": target.removeprefix(inside)[:300]})
    return out


def _budget_args(usd: float | None) -> list[str]:
    return ["--max-budget-usd", f"{usd:g}"] if usd is not None else []


def _plain(rel: str) -> bool:
    """A repository-relative path that stays inside the folder it is written to."""
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and ".." not in parts and "" not in parts


def _failed(outcome: Outcome, kind: str, detail: str) -> Outcome:
    outcome.ok, outcome.failure_kind, outcome.failure_detail = False, kind, detail
    return outcome


def _as_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


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


__all__ = ["ClaudeCodeExecutor", "claude_available", "denials", "failure_of", "usage_of"]
