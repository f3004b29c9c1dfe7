"""The CLI's front door: `agents run` in its common forms is read here, without typer, whose import (with the
click it carries) and command tree cost a one-step run 25-40 ms of CPU; every other argument list, including
each mistake and `--help`, goes to the typer application (commands/app.py), which reads and answers it.
What is read here is read as that application reads it (a test compares the two on many lists), and ends
through the same handler (commands/outcome.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentfiles.commands.outcome import as_typer, guarded
from agentfiles.commands.output import Options

GLOBAL_FLAGS = {"--json": ("json_output", True), "--color": ("color", True), "--no-color": ("color", False)}
RUN_FLAGS = {"--dry-run": "dry_run", "-n": "dry_run", "--force": "force", "--keep-going": "keep_going",
             "-k": "keep_going", "--no-deps": "no_deps", "--no-cluster": "no_cluster", "--no-cache": "no_cache",
             "--json": "json_output"}
RUN_VALUES = {"--jobs": "jobs", "-j": "jobs", "--branch": "branch", "-b": "branch", "--cluster": "cluster"}
COMPLETION = "_AGENTS_COMPLETE"  # set by a shell asking for completions: the typer application answers it


def run(args: list[str]) -> int:
    """Run the CLI with `args`; returns the exit code."""
    if args == ["status"] and not os.environ.get(COMPLETION):  # a bare status: no option to read
        from agentfiles.commands.status_report import run_status

        return run_status(args)
    parsed = run_arguments(args)
    if parsed is None:
        from agentfiles.commands.app import run as run_parsed

        return run_parsed(args)
    return guarded(lambda: _run(*parsed), args)


def run_arguments(args: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The global options and the parameters of `run` that `args` give, as the typer application's parser
    hands them over (before typer converts them), when `args` are `agents run` with only these options in
    these forms: `-C DIR`, `--json`, `--color`, `--no-color` before the verb; task names, the flags of
    RUN_FLAGS, and `--jobs N`, `-j N`, `-jN`, `--jobs=N` (N from 1) and the same forms of --branch, -b and
    --cluster after it. None for anything else."""
    if os.environ.get(COMPLETION):
        return None
    options: dict[str, Any] = {"version": None, "directory": None, "json_output": False, "color": None}
    at = 0
    while at < len(args) and args[at] != "run":
        arg = args[at]
        if arg in GLOBAL_FLAGS:
            name, value = GLOBAL_FLAGS[arg]
            options[name] = value
            at += 1
        elif arg == "-C" and at + 1 < len(args) and _plain(args[at + 1]) and _readable(args[at + 1]):
            options["directory"] = args[at + 1]
            at += 2
        else:
            return None
    if at == len(args):
        return None
    params: dict[str, Any] = {
        "tasks": (), "jobs": None, "dry_run": False, "force": False, "keep_going": False, "no_deps": False,
        "branch": None, "canary": None, "canary_pick": (), "wave": None, "cluster": None, "no_cluster": False,
        "no_cache": False, "json_output": False,
    }
    tasks: list[str] = []
    rest = iter(args[at + 1:])
    for arg in rest:
        if not arg.startswith("-"):
            tasks.append(arg)
            continue
        if arg in RUN_FLAGS:
            params[RUN_FLAGS[arg]] = True
            continue
        if arg in RUN_VALUES:
            name, value = RUN_VALUES[arg], next(rest, None)
        elif arg.startswith("--") and arg.partition("=")[0] in RUN_VALUES:
            name, value = RUN_VALUES[arg.partition("=")[0]], arg.partition("=")[2]
        elif arg[:2] in ("-j", "-b") and len(arg) > 2 and arg[2] != "=":
            name, value = RUN_VALUES[arg[:2]], arg[2:]
        else:
            return None
        if value is None or not _plain(value):
            return None
        if name == "jobs":
            if not (value.isascii() and value.isdigit() and int(value) >= 1):
                return None
            params[name] = int(value)
        else:
            params[name] = value
    params["tasks"] = tuple(tasks)
    return options, params


def _plain(value: str) -> bool:
    """A value read as typer would read it: not empty, not taken for an option."""
    return bool(value) and not value.startswith("-")


def _readable(directory: str) -> bool:
    """`-C DIR` as typer takes it: DIR need not exist, but if it does, it must be readable."""
    return not os.path.exists(directory) or os.access(directory, os.R_OK)


def _run(options: dict[str, Any], params: dict[str, Any]) -> int:
    """`agents run` with what run_arguments read, converted as typer converts it."""
    from agentfiles.commands.running import run_verb

    def call() -> int:
        directory = options["directory"]
        opts = Options(directory=Path(directory) if directory is not None else Path.cwd(),
                       json=options["json_output"], color=options["color"])
        return run_verb(opts, **{**params, "tasks": list(params["tasks"]) or None,
                                 "canary_pick": list(params["canary_pick"]) or None})

    return as_typer(call)
