"""The interface every executor shares: a step request in, a step result out.

A request says what the step is, what it reads (its inputs by hash) and how it is carried out; it holds
nothing of the machine, so it can be recorded, cached or sent elsewhere. The runtime is the machine's
part: the sandbox folder holding those inputs, the cancel event, the process registry. The runner
prepares the sandbox and collects the outputs; an executor only carries the step out inside it (a
command, a model conversation, a Claude Code session) and reports how it went.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from agentfiles.core.records import record
from agentfiles.executors.isolation import Isolation

if TYPE_CHECKING:
    from agentfiles.core.context import StepContext
    from agentfiles.core.models import Budget, Price, Task


# Told of each model API call about to be retried (its try number, tries in all, why) in the thread that
# made it: the runner sets it around a step so a retry is seen as it happens, whichever conversation of
# the step (doer, verifier, discussion, router) made the call.
api_retries: ContextVar[Callable[[int, int, str], None] | None] = ContextVar("api_retries", default=None)
# Told, likewise, why a model call waits before it goes: the rate governor holds it back (executors/governor.py).
api_waits: ContextVar[Callable[[str], None] | None] = ContextVar("api_waits", default=None)


@record
class StepRequest:
    """Everything a step's execution needs, serialisable: what the step is, what it reads, how it is done."""

    task_id: str
    run_id: str
    task: Task
    intent: str
    inputs: dict[str, str]  # repo-relative files the sandbox holds -> their sha256
    outputs: list[str]  # repo-relative files the step may write
    env: dict[str, str]  # the environment the step runs with (secrets already withheld)
    timeout: float | None = None
    isolation: Isolation = field(default_factory=Isolation)
    # Model steps only:
    context: StepContext | None = None
    first_request: dict[str, Any] | None = None
    model: str | None = None
    role: str | None = None
    budget: Budget | None = None
    price: Price | None = None
    max_turns: int = 30
    tools: list[str] = field(default_factory=list)  # the doer's tools its role allows (core/tools.py)


@record
class Runtime:
    """Where a request runs on this machine: its sandbox, and what stops and tracks its processes."""

    sandbox: Path
    cancel: threading.Event | None = None  # set when the run is interrupted: stop at once
    track: Any = None  # where started processes are written down (a ProcessRegistry)


@record
class StepResult:
    """How a step's execution went: success or the kind of failure, and what it cost."""

    ok: bool
    failure_kind: str | None = None  # crash | hang | api | budget | invalid_output | ...
    failure_detail: str = ""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    summary: str = ""  # the handoff's Summary section
    sections: dict[str, str] = field(default_factory=dict)  # other handoff sections by heading
    record: dict[str, Any] = field(default_factory=dict)  # executor-specific facts for the run record
    files: dict[str, bytes] = field(default_factory=dict)  # more run-record files (requests, responses)
    usage: dict[str, Any] = field(default_factory=dict)  # tokens, cost_usd, turns
    model: str | None = None


class Executor(Protocol):
    name: str

    def execute(self, request: StepRequest, runtime: Runtime) -> StepResult: ...
