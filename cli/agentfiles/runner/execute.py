"""Carrying out one step request: the executor runs in the sandbox that holds the request's inputs, then
what it left there is collected against what it declared. Nothing here knows the repository or git, so the
same request can run here, on another machine, or be answered from a cache."""

from __future__ import annotations

from dataclasses import field

from agentfiles.core.records import record
from agentfiles.executors.base import Executor, Runtime, StepRequest, StepResult
from agentfiles.executors.sandbox import Collected, collect


@record
class Execution:
    """A step's result with the outputs it wrote and the files it deleted."""

    result: StepResult
    outputs: dict[str, bytes] = field(default_factory=dict)  # the declared outputs it wrote
    deleted: list[str] = field(default_factory=list)  # the files under its output globs it deleted


def execute(request: StepRequest, runtime: Runtime, executor: Executor) -> Execution:
    """Run `request` with `executor` in `runtime.sandbox`; a step that wrote (or changed, or deleted)
    anything it did not declare, or left a declared output unwritten, fails with `invalid_output`."""
    result = executor.execute(request, runtime)
    return finish(request, runtime, result)


def finish(request: StepRequest, runtime: Runtime, result: StepResult) -> Execution:
    """Collect what a finished executor left in the sandbox and judge it against the declared outputs."""
    collected = collect(runtime.sandbox, request.inputs, request.outputs)
    wrong = output_failure(collected)
    if result.ok and wrong:
        result.ok, result.failure_kind, result.failure_detail = False, "invalid_output", wrong
    return Execution(result, collected.outputs, collected.deleted)


def output_failure(collected: Collected) -> str | None:
    """Why what a step left does not match what it declared (`invalid_output`), or None."""
    if collected.undeclared:
        return "wrote undeclared files: " + ", ".join(collected.undeclared)
    if collected.missing:
        return "declared output missing: " + ", ".join(collected.missing)
    return None
