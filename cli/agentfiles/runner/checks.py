"""`run:` acceptance checks: each runs in a checkout of HEAD (one of the run's, reset before each use) with
the step's inputs and outputs laid over it (and the files it deleted removed), confined like the step itself (the OS sandbox sees that
checkout and nothing else)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles.executors.command import run_shell

if TYPE_CHECKING:
    from agentfiles.core.models import Task
    from agentfiles.executors.isolation import Isolation
    from agentfiles.runner.attempt import RunContext

DEFAULT_CHECK_TIMEOUT_S = 600.0
CHECK_OUTPUT_CAP = 4000  # characters of a check's output kept in the run record (the tail)


def run_checks(
    ctx: RunContext, task: Task, sandbox: Path, files: list[str], outputs: dict[str, bytes], env: dict[str, str],
    isolation: Isolation,
) -> list[dict[str, Any]]:
    """Run each `run:` criterion in order until one fails; returns what each did."""
    results: list[dict[str, Any]] = []
    with ctx.check_trees.tree() as tree:
        for rel in files:
            target = tree / rel
            if not (sandbox / rel).exists():  # a file under its output globs that the step deleted
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sandbox / rel, target)
        for rel, data in outputs.items():
            target = tree / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for check in task.checks:
            timeout = check.timeout or task.timeout or DEFAULT_CHECK_TIMEOUT_S
            code, out, err, seconds, timed_out = run_shell(
                check.run or "", str(tree), env, timeout, ctx.cancelled, ctx.processes, isolation
            )
            results.append({
                "run": check.run,
                "ok": code == 0 and not timed_out,
                "exit_code": code,
                "timed_out": timed_out,
                "duration_s": round(seconds, 3),
                "output": (out + err).decode("utf-8", "replace")[-CHECK_OUTPUT_CAP:],
            })
            if not results[-1]["ok"]:
                break
    return results
