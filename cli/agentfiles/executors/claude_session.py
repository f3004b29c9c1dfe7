"""One locked-down `claude -p` process: which `claude` runs (and whether it has the flags that confine
it), what it authenticates with, the environment and arguments that keep it to the step (its file tools
limited to its folder and its declared outputs, no shell, web, subagent or MCP tool, none of the user's
or project's settings, memory or sessions, a private HOME), and the OS sandbox around the whole process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from agentfiles.core.environment import is_secret, redact, secret_values
from agentfiles.core.records import record
from agentfiles.core.scratch import scratch_folder
from agentfiles.errors import PreconditionError
from agentfiles.executors.command import run_process
from agentfiles.executors.isolation import SANDBOX_HOME, Isolation, Mounts, confine, confined_env

# Claude Code's own credentials; every other secret stays out of its environment.
PASSED_SECRETS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
# No update checks, telemetry, error reports or other traffic besides the model's API.
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
# Variables that would point claude at the user's configuration or at a session it runs inside.
DROPPED = ("CLAUDE_CONFIG_DIR", "CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT", "CLAUDE_CODE_SSE_PORT")
# The flags the lockdown depends on: a `claude` without one of them is refused, never run half-confined.
REQUIRED_FLAGS = (
    "--tools", "--permission-mode", "--settings", "--setting-sources", "--strict-mcp-config",
    "--no-session-persistence", "--max-budget-usd", "--json-schema", "--append-system-prompt",
)
TESTED_VERSION = "2.1.332"
MANAGED_SETTINGS = "/etc/claude-code"  # an organisation's policy for Claude Code: kept, read-only
UPDATE_HINT = (
    f"update Claude Code (`claude update`, or `npm install -g @anthropic-ai/claude-code`); agents is tested "
    f"with {TESTED_VERSION}"
)


@dataclass(frozen=True)
class Program:
    path: str  # the real path of the `claude` executable
    version: str
    mounts: tuple[str, ...]  # what must be visible, read-only, for it to run inside the OS sandbox


def find_claude(environ: dict[str, str]) -> Program:
    """The `claude` on PATH, checked once per run for the flags that confine it."""
    search = environ.get("PATH", "")
    found = shutil.which("claude", path=search)
    if found is None:
        raise PreconditionError("`claude` is not on PATH",
                                hint="install Claude Code and log in (https://docs.claude.com/claude-code)")
    return _probe(os.path.realpath(found), search)


@lru_cache(maxsize=8)
def _probe(path: str, search: str) -> Program:
    home = scratch_folder("claude-probe")
    env = {"PATH": search, "HOME": home, **QUIET}
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, env=env, timeout=60,
                                 check=False)
        usage = subprocess.run([path, "--help"], capture_output=True, text=True, env=env, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PreconditionError(f"cannot run {path}: {exc}", hint=UPDATE_HINT) from None
    finally:
        shutil.rmtree(home, ignore_errors=True)
    number = (version.stdout.split() or ["unknown"])[0]
    missing = [f for f in REQUIRED_FLAGS if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", usage.stdout)]
    if missing:
        raise PreconditionError(
            f"Claude Code {number} ({path}) lacks {', '.join(missing)}, which agents needs to confine its steps",
            hint=UPDATE_HINT,
        )
    return Program(path, number, tuple(_program_mounts(path, search)))


def _program_mounts(program: str, search: str) -> list[str]:
    """The program's own files: its npm package (bin/claude.exe, or cli.js at the top) or the single
    native binary; for a script, the prefix of the `node` that runs it."""
    here = Path(program)
    mounts = [program]
    for folder in (here.parent, here.parent.parent):
        if (folder / "package.json").is_file():
            mounts = [str(folder)]
            break
    with open(program, "rb") as handle:
        script = handle.read(2) == b"#!"
    node = shutil.which("node", path=search) if script else None
    if node:
        mounts.append(str(Path(os.path.realpath(node)).parent.parent))
    return mounts


def login(environ: dict[str, str]) -> tuple[dict[str, str], str]:
    """What Claude Code authenticates with inside a step, and how the run record names it: the key or
    token variables the user set; else the access token of the user's Claude Code login (passed as
    CLAUDE_CODE_OAUTH_TOKEN, so nothing of ~/.claude, not even the file holding it, is visible to the
    step, and the step can never renew or spoil that login)."""
    given = {name: environ[name] for name in PASSED_SECRETS if environ.get(name)}
    if given:
        return given, ", ".join(sorted(given))
    config = environ.get("CLAUDE_CONFIG_DIR") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".claude")
    path = Path(config) / ".credentials.json"
    try:
        oauth = json.loads(path.read_text(encoding="utf-8")).get("claudeAiOauth")
        token, expires = oauth.get("accessToken"), oauth.get("expiresAt")
    except (OSError, ValueError, AttributeError):
        return {}, "none found"
    if not isinstance(token, str) or not token:
        return {}, "none found"
    if isinstance(expires, (int, float)) and expires / 1000 < time.time():
        raise PreconditionError(
            f"the Claude Code login in {path} has expired",
            hint="run `claude` once (it renews the login), or set CLAUDE_CODE_OAUTH_TOKEN (`claude setup-token`) "
            "or ANTHROPIC_API_KEY",
        )
    return {"CLAUDE_CODE_OAUTH_TOKEN": token}, f"the access token of the Claude Code login in {path}"


def lockdown(read: bool, outputs: list[str], tools: list[str] | None = None) -> list[str]:
    """The arguments that keep a session to its folder: the tools it is given (`tools`, Claude Code's
    names; by default its file tools, and no shell, web, subagents or skills), reading allowed inside the
    folder, writing only to `outputs` (files and globs), Bash only when given (the caller gives it only
    inside the OS sandbox), every other use refused without asking; no settings, memory or MCP server of
    the user or the project, no hooks, no transcript kept."""
    if tools is None:
        tools = [*(("Read", "Glob", "Grep") if read or outputs else ()), *(("Write", "Edit") if outputs else ())]
    allow = [*(["Read(./**)"] if tools else []), *(f"Edit(./{rel})" for rel in outputs if tools),
             *(["Bash"] if "Bash" in tools else [])]
    settings = {"permissions": {"defaultMode": "dontAsk", "allow": allow}, "disableAllHooks": True}
    return [
        "--tools", ",".join(tools), "--permission-mode", "dontAsk", "--settings", json.dumps(settings),
        "--setting-sources", "", "--strict-mcp-config", "--no-session-persistence",
    ]


@record
class Session:
    """How one `claude -p` process went."""

    argv: list[str]
    env: dict[str, str]
    code: int | None = None
    data: dict[str, Any] | None = None  # its JSON result
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    timed_out: bool = False


def run_session(
    program: Program,
    args: list[str],
    prompt: str,
    folder: Path,
    isolation: Isolation,
    env: dict[str, str],
    timeout: float,
    cancel: Any = None,
    track: Any = None,
    protect: list[str] | None = None,
) -> Session:
    """Run `claude -p --output-format json ARGS` in `folder` with `prompt` on stdin: inside the OS sandbox
    (with the network, for its API) when `isolation` says so, with the files of `protect` (relative to
    the folder) read-only, else in the folder with a private HOME of its own that is removed afterwards."""
    argv = [program.path, "-p", "--output-format", "json", *args]
    home = None
    if isolation.mode == "os":
        view = Isolation("os", network=True, toolchain=isolation.toolchain, hide=isolation.hide)
        managed = [MANAGED_SETTINGS] if os.path.isdir(MANAGED_SETTINGS) else []
        argv = confine(argv, folder, view, Mounts(read_only=[*program.mounts, *managed], protect=protect or []))
        env = {**env, "HOME": SANDBOX_HOME}
    else:
        home = scratch_folder("claude-home")
        os.mkdir(os.path.join(home, "tmp"))
        env = {**env, "HOME": home, "TMPDIR": os.path.join(home, "tmp")}  # whatever it leaves goes with it
    try:
        code, out, err, seconds, timed_out = run_process(
            argv, str(folder), env, timeout, cancel, stdin=prompt.encode("utf-8"), track=track,
            contained=isolation.mode == "os")
    finally:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
    hidden = secret_values({k: v for k, v in env.items() if k in PASSED_SECRETS})  # a login token read from a file
    session = Session(argv, env, code, None, redact(out, hidden).decode("utf-8", "replace"),
                      redact(err, hidden).decode("utf-8", "replace"), round(seconds, 3), timed_out)
    session.data = last_json(session.stdout)
    return session


def session_env(base: dict[str, str], credentials: dict[str, str], retries: int) -> dict[str, str]:
    """Claude Code's environment: `base` (the step's, or the caller's for a conversation) without secrets,
    agents' internals or anything pointing into the user's home, plus its credentials, no traffic besides
    the model's API, and `retries` as its number of API retries unless the caller set it."""
    kept = {k: v for k, v in base.items()
            if (not k.startswith("AGENTS_") or k == "AGENTS_TASK") and not is_secret(k) and k not in DROPPED}
    env = confined_env(kept)
    env.update(credentials)
    env.update(QUIET)
    env.setdefault("CLAUDE_CODE_MAX_RETRIES", str(retries))
    return env


def last_json(text: str) -> dict[str, Any] | None:
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
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
