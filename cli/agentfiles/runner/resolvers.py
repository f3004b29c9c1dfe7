"""How each planned step is carried out: its executor (the command, the API, Claude Code) and how its
processes are confined (OS sandbox or folder), both decided for a run's steps before any of them starts."""

from __future__ import annotations

import os
from collections.abc import Callable

from agentfiles.core.foreach import family_of
from agentfiles.core.paths import TOOLCHAIN_HINT, toolchain_problem
from agentfiles.errors import PreconditionError
from agentfiles.executors.base import Executor
from agentfiles.executors.command import CommandExecutor
from agentfiles.executors.isolation import Isolation, choose_mode
from agentfiles.storage.workspace import Workspace


def executor_resolver(
    workspace: Workspace, environ: dict[str, str] | None = None, *, shipped: bool = False
) -> Callable[[str], Executor]:
    """Which executor carries out each step: `command` for `run:` steps; for model steps the task's
    `executor`, else the config's; `auto` is the API when a key or base URL is configured, else a
    `claude` CLI on PATH. Executors are made once and shared by the run's steps. `shipped`: the API's
    steps are carried out elsewhere (on a cluster's workers), so the SDK is loaded here only for the
    conversations held here (a verifier's, a router's, a discussion's)."""
    environ = dict(os.environ if environ is None else environ)
    config = workspace.project.config
    made: dict[str, Executor] = {"command": CommandExecutor()}

    def make(kind: str, here: bool) -> Executor:
        if kind not in made:
            if kind == "agent":
                from agentfiles.executors.api_client import LazyAnthropicExecutor

                # Checks the key and base URL now (before any step) and starts importing the SDK in the
                # background, so the first model step does not wait for all of it (not when a cluster's
                # workers hold the conversations: seconds of CPU the coordinator would spend for nothing).
                made[kind] = LazyAnthropicExecutor(config.api, environ, preload=here)
            else:
                from agentfiles.executors.claude_code import ClaudeCodeExecutor

                made[kind] = ClaudeCodeExecutor(environ, config.api.retries, config.isolation, workspace.root)
        elif here and kind == "agent":
            made[kind].preload()  # type: ignore[attr-defined]  # a conversation held here after all
        return made[kind]

    def executor_for(task_id: str, model: bool = False) -> Executor:
        """The step's executor; with `model`, the one that carries out its model conversations besides
        the doer's (verifier, router, discussion turns), for a command step too."""
        task = workspace.project.tasks[family_of(task_id)].model
        if task.is_command and not model:
            return made["command"]
        kind = task.executor if task.executor not in ("auto", "command") else config.executor
        if kind == "command":
            kind = "auto"
        if kind == "auto":
            from agentfiles.core.environment import api_configured
            from agentfiles.executors.claude_code import claude_available

            if api_configured(config.api.base_url, config.api.provider, environ):
                kind = "agent"
            elif claude_available(environ):
                kind = "claude-code"
            else:
                what = "a model" if not task.is_command else "a model for its verifier"
                raise PreconditionError(
                    f"step {task_id} needs {what}, and none is configured",
                    hint="set ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL, or api.base_url in .agents/config.yaml "
                    "for an Anthropic-compatible endpoint), or log in to Claude Code so `claude` is on PATH",
                )
        if kind == "claude-code":
            from agentfiles.executors.claude_code import claude_available

            if not claude_available(environ):
                raise PreconditionError(
                    f"step {task_id} runs with Claude Code (`executor: claude-code`), and `claude` is not on PATH",
                    hint="install Claude Code and log in (https://docs.claude.com/claude-code), or use `executor: auto`",
                )
        return make(kind, here=model or not shipped)

    return executor_for


def isolation_resolver(
    workspace: Workspace, steps: list[str], on_event: Callable[[str, object], None]
) -> Callable[[str], Isolation]:
    """How each step's processes are confined: `isolation` and `network` of the task, else of its role
    (under `agents:`), else of the config. Decided for every planned step before any runs: `isolation: os`
    without a working OS sandbox stops the run; `auto` falling back to folder isolation is said once."""
    project = workspace.project
    config = project.config
    root = workspace.root
    for path in config.toolchain:
        refused = toolchain_problem(root, path)
        if refused:
            raise PreconditionError(
                f"toolchain path {path!r} of .agents/config.yaml leads to {refused[0]}, which would show steps "
                f"{refused[1]}",
                hint=TOOLCHAIN_HINT,
            )
    toolchain = tuple(os.path.realpath(root / p) for p in config.toolchain)  # absolute paths stay as they are
    modes: dict[str, tuple[str, str | None]] = {}
    decided: dict[str, Isolation] = {}
    for step in steps:
        task = project.tasks[family_of(step)].model
        role = project.roles.get(task.role).model.agents if task.role and task.role in project.roles else None
        requested = task.isolation or (role.isolation if role else None) or config.isolation
        network = next(v for v in (task.network, role.network if role else None, config.network) if v is not None)
        if requested not in modes:
            modes[requested] = choose_mode(requested)
            if requested == "folder":  # asked for: said once, as a note, not a warning
                on_event("note", "steps set to `isolation: folder` run in a plain folder: their commands (and a "
                         "Claude Code session) can read and write outside it; the tripwire still fails a step "
                         "that changes the repository")
        mode, note = modes[requested]
        if note:
            on_event("warning", note)
            modes[requested] = (mode, None)
        decided[step] = Isolation(mode=mode, network=network, toolchain=toolchain, hide=(str(root),))
    return lambda step: decided[step]
