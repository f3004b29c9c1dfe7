"""Carrying out one step request: the executor runs in the sandbox that holds the request's inputs, then
what it left there is collected against what it declared. Nothing here knows the repository or git, so the
same request can run here, on another machine, or be answered from a cache."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfiles.executors.base import Executor, Runtime, StepRequest, StepResult
from agentfiles.executors.sandbox import collect


@dataclass
class Execution:
    result: StepResult
    outputs: dict[str, bytes] = field(default_factory=dict)  # the declared outputs it wrote


def execute(request: StepRequest, runtime: Runtime, executor: Executor) -> Execution:
    """Run `request` with `executor` in `runtime.sandbox`; a step that wrote (or changed, or deleted)
    anything it did not declare, or left a declared output unwritten, fails with `invalid_output`."""
    result = executor.execute(request, runtime)
    return finish(request, runtime, result)


def finish(request: StepRequest, runtime: Runtime, result: StepResult) -> Execution:
    """Collect what a finished executor left in the sandbox and judge it against the declared outputs."""
    collected = collect(runtime.sandbox, request.inputs, request.outputs)
    if result.ok and collected.undeclared:
        result.ok, result.failure_kind = False, "invalid_output"
        result.failure_detail = "wrote undeclared files: " + ", ".join(collected.undeclared)
    elif result.ok and collected.missing:
        result.ok, result.failure_kind = False, "invalid_output"
        result.failure_detail = "declared output missing: " + ", ".join(collected.missing)
    return Execution(result, collected.outputs)
