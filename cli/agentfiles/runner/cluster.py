"""Steps on a Dask cluster (`agents run --cluster ADDRESS`, `cluster:` in the config; `local:N` starts a
LocalCluster of N worker processes). A step's execution is a function of its request: the coordinator ships
the request, its input files (by digest) and what its executor needs, and a worker materialises a sandbox,
runs the executor there (with OS isolation where the worker has it) and returns the result and outputs.
Judging, applying and committing stay with the coordinator (runner/step.py, runner/land.py). A task whose
worker dies is run again by Dask on another; only the coordinator commits, once per step.

Model calls on every worker and on the coordinator share one rate governor, kept in the scheduler's
process (runner/shared_limits.py), so a cluster run keeps to `api.limits` as a local one does.

Only imported when a run asks for a cluster: Dask is the optional extra `dask` (`pip install '.[dask]'`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.cluster import CLUSTER_HINT, local_workers
from agentfiles.core.fingerprint import digest_bytes
from agentfiles.core.models import ApiSettings
from agentfiles.core.records import record
from agentfiles.core.scratch import scratch_folder
from agentfiles.errors import PreconditionError, UsageError
from agentfiles.executors.base import Executor, Runtime, StepRequest, StepResult, api_retries, api_waits
from agentfiles.runner.execute import Execution, execute
from agentfiles.runner.shared_limits import SharedLimits

DASK = "distributed>=2024.1"  # pyproject's extra `dask`


def install_hint() -> str:
    """How to add Dask where this agents runs: the extra from a clone of the repository (git-agentfiles is
    not on the package index), or the package itself into the environment of the Python running agents."""
    import shlex
    import sys

    return (f"install the extra `dask`: `pip install '.[dask]'` in a clone of agents' repository, or "
            f"`{shlex.quote(sys.executable)} -m pip install '{DASK}'` into the environment agents runs in")
KEYS_FOR_API = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")  # what the API executor reads
SHIPPED = ("command", "agent")  # executors that run on workers; Claude Code steps stay where the login is


@record
class WorkOrder:
    """What a worker needs to carry out one step: the request, its inputs' bytes by digest, its executor."""

    request: StepRequest
    blobs: dict[str, bytes]  # digest -> content, for request.inputs
    executor: str  # command | agent
    settings: ApiSettings | None = None  # the API's, for a model step
    environ: dict[str, str] = field(default_factory=dict)  # only what the executor reads (the API key)
    run: str = ""  # the run's name on the cluster: its shared rate governor, the topic of its progress


def run_order(order: WorkOrder) -> Execution:
    """On a worker: a fresh sandbox holding the inputs, the executor run in it, what it left collected."""
    home = Path(scratch_folder("worker"))
    sandbox = home / "work"
    try:
        request = order.request
        for rel, digest in request.inputs.items():
            data = order.blobs[digest]
            if digest_bytes(data) != digest:
                raise ValueError(f"input {rel} arrived damaged")
            target = sandbox / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for rel in request.outputs:
            (sandbox / rel).parent.mkdir(parents=True, exist_ok=True)
        sandbox.mkdir(parents=True, exist_ok=True)
        from agentfiles.storage.processes import ProcessRegistry

        runtime = Runtime(sandbox, threading.Event(), ProcessRegistry(home / "processes"))
        told = _teller(order.run, request.run_id)
        told("start")  # a second start of one run: Dask runs it again, as the worker that had it died
        retries = api_retries.set(lambda number, of, why: told("retry", number, of, why))
        waits = api_waits.set(lambda why: told("wait", why))
        try:
            return execute(request, runtime, _executor(order))
        finally:
            api_retries.reset(retries)
            api_waits.reset(waits)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _teller(topic: str, run_id: str) -> Callable[..., None]:
    """On a worker: tells the coordinator's progress of the step's start, or a model call's retry or wait
    (a Dask event naming this worker)."""
    from distributed import get_worker

    worker = get_worker()
    return lambda kind, *args: worker.log_event(topic, {"run": run_id, "kind": kind, "args": list(args),
                                                        "worker": worker.address})


class Cluster:
    """The coordinator's side: a Dask client (and the LocalCluster it started, for `local:N`)."""

    def __init__(self, address: str, settings: ApiSettings, environ: dict[str, str], asked: str = "") -> None:
        try:
            import distributed
        except ImportError:
            asked = asked or f"`--cluster {address}`"
            raise PreconditionError(f"{asked} needs Dask, which is not installed", hint=install_hint()) from None
        quiet_dask()
        self.local: Any = None
        self.name = f"agents-{uuid.uuid4().hex[:12]}"
        try:
            count = local_workers(address)  # its form checked by the run (core/cluster.py), as the config's
            if count is not None:
                self.local = local_cluster(count)
                self.client = distributed.Client(self.local)
            else:
                self.client = distributed.Client(address, timeout="15s")
        except ValueError as exc:  # Dask's reading of the address: no port, an unknown protocol
            self.close()
            raise UsageError(f"`{address}` is not a Dask scheduler address: {exc}", hint=CLUSTER_HINT) from None
        except (OSError, TimeoutError) as exc:
            self.close()
            raise PreconditionError(f"cannot reach the Dask scheduler at {address}: {exc}",
                                    hint="start one (`dask scheduler` and `dask worker ADDRESS`), or use --cluster local:N") from None
        self.address = address
        self.settings = settings
        self.environ = {k: environ[k] for k in KEYS_FOR_API if k in environ}  # all a worker gets of secrets
        self.listeners: dict[str, tuple[Any, Any]] = {}  # a running step's run id -> its (waits, retries) progress
        self.steps: dict[str, str] = {}  # a running step's run id -> its step id
        self.workers: dict[str, list[str]] = {}  # a running step's run id -> the workers it started on
        self.on_event: Callable[[str, object], None] | None = None  # the run's progress
        self.client.subscribe_topic(self.name, self._heard)

    @property
    def threads(self) -> int:
        """Steps the cluster's workers can carry out at once."""
        return max(1, sum(self.client.nthreads().values()))

    def executes(self, fallback: Any) -> Any:
        """The run's `execute`: steps whose executor can travel go to a worker, the others run here."""

        def run(request: StepRequest, runtime: Runtime, executor: Executor) -> Execution:
            if executor.name not in SHIPPED:
                return fallback(request, runtime, executor)
            return self._remote(request, runtime, executor)

        return run

    def _remote(self, request: StepRequest, runtime: Runtime, executor: Executor) -> Execution:
        blobs = {digest: (runtime.sandbox / rel).read_bytes() for rel, digest in request.inputs.items()}
        order = WorkOrder(request, blobs, executor.name, run=self.name)
        if executor.name == "agent":
            order.settings, order.environ = self.settings, self.environ
        self.listeners[request.run_id] = (api_waits.get(), api_retries.get())
        self.steps[request.run_id] = request.task_id
        try:
            return self._carried_out(order, runtime)
        finally:
            self.listeners.pop(request.run_id, None)
            self.steps.pop(request.run_id, None)
            self.workers.pop(request.run_id, None)

    def _carried_out(self, order: WorkOrder, runtime: Runtime) -> Execution:
        request = order.request
        future = self.client.submit(run_order, order, pure=False, key=f"agents-{request.run_id}-{uuid.uuid4().hex[:8]}")
        # Waited for through a callback: polling `result(timeout=...)` can lose the result in a race inside
        # Dask's client under load (an UnboundLocalError instead of the answer).
        finished = threading.Event()
        future.add_done_callback(lambda _: finished.set())
        while not finished.wait(0.2):
            if runtime.cancel is not None and runtime.cancel.is_set():
                future.cancel()
                return Execution(StepResult(ok=False, failure_kind="interrupted", failure_detail="interrupted"))
        try:
            execution: Execution = future.result()
        except Exception as exc:  # noqa: BLE001 - the worker's failure (or its loss, too many times) fails the step
            detail = f"on the cluster: {type(exc).__name__}: {exc}"
            return Execution(StepResult(ok=False, failure_kind="crash", failure_detail=detail,
                                        summary="The step's worker failed; nothing it did was kept."))
        for rel, data in execution.outputs.items():  # the checks and the verifier read the sandbox, as locally
            target = runtime.sandbox / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        execution.result.record["worker"] = "cluster"
        return execution

    def _heard(self, event: tuple[float, dict[str, Any]]) -> None:
        """A worker's word on a step's model call (in the client's event loop): passed to its progress."""
        message = event[1]
        if message.get("kind") == "start":
            self._started(message.get("run", ""), str(message.get("worker") or "?"))
            return
        waits, retries = self.listeners.get(message.get("run", ""), (None, None))
        tell = waits if message.get("kind") == "wait" else retries
        if tell is not None:
            tell(*message.get("args", []))

    def _started(self, run: str, worker: str) -> None:
        """A step started on a worker; started again, it says so: the worker it was on died mid-step."""
        step = self.steps.get(run)
        if step is None:
            return
        earlier = self.workers.setdefault(run, [])
        earlier.append(worker)
        if len(earlier) > 1 and self.on_event is not None:
            from agentfiles.runner.attempt import Retry

            why = f"the worker running it ({earlier[-2]}) died mid-step; nothing it did was kept"
            self.on_event("retry", Retry(step, len(earlier), 0, why, "worker"))

    def shared_limits(self) -> SharedLimits:
        """The run's limits across the cluster; stops the run first when the scheduler cannot keep them."""
        limits = SharedLimits(self.name, self.settings)
        limits._made["client"] = self.client  # the run's, whichever client is the process's default
        try:
            limits.forget(self.client)
        except Exception as exc:  # noqa: BLE001 - whatever the scheduler's process failed with
            self.close()
            raise PreconditionError(f"the Dask scheduler at {self.address} cannot keep the run's rate limits: "
                                    f"{type(exc).__name__}: {exc}",
                                    hint="install agents with its extra `dask` where the scheduler runs too "
                                         "(`pip install '.[dask]'` in a clone)") from None
        return limits

    def close(self) -> None:
        client, local = getattr(self, "client", None), self.local
        if client is not None:
            try:  # the run's limits leave the scheduler with it (a long-lived one serves many runs)
                SharedLimits(self.name, self.settings).forget(client)
            except Exception:  # noqa: BLE001,S110 - a scheduler gone or unable: nothing is left to forget
                pass
            client.close()
        if local is not None:
            local.close()


# What Dask's processes poll for when nobody looks: a dashboard's profiles (every 10 ms in each worker),
# machine figures, memory, the event loop's lag. Idle, a worker so took 41 ms of CPU a second and the
# scheduler with the nannies 80 ms for 4 workers; with these, 5 ms and 18 ms (bench/cluster_bench.py). A
# LocalCluster shares the machine with the coordinator and its steps, and has no dashboard.
QUIET_POLLING = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
}


def local_cluster(count: int) -> Any:
    """A LocalCluster of `count` worker processes, one thread each, as `local:N` starts it: no dashboard
    (Dask's HTTP server, which it starts anyway, on a free port of the loopback: dashboard_address=None
    means 8787 to Dask, a warning when taken), Dask's polling for one turned down."""
    import dask
    import distributed

    with dask.config.set(QUIET_POLLING):  # the nannies hand it to the worker processes they start
        return distributed.LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR,
        )


@contextmanager
def on_cluster(address: str | None, settings: ApiSettings, on_event: Callable[[str, object], None],
               asked: str = "") -> Iterator[Cluster | None]:
    """The run's cluster for the steps it runs (None: none asked for), its model calls' limits shared
    with the workers' meanwhile; closed (a LocalCluster stopped) when the run ends. `asked`: where the
    address was given, as an error should name it."""
    if not address:
        yield None
        return
    from agentfiles.executors.governor import share

    cluster = Cluster(address, settings, dict(os.environ), asked)
    cluster.on_event = on_event
    threads = cluster.threads
    on_event("note", f"steps run on the Dask cluster at {address} ({threads} worker thread{'s' if threads != 1 else ''})")
    share(cluster.shared_limits())
    try:
        yield cluster
    finally:
        share(None)
        cluster.close()


def quiet_dask() -> None:
    """Dask's own messages out of the run's output but for errors: its logs (to stderr, at INFO by its
    config) and the warnings its client gives about what agents sends (a step's inputs make a large graph),
    which a user can do nothing about. Its other warnings (a scheduler of another version) still show."""
    import warnings

    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Sending large graph", module=r"distributed\.")


_WORKER: dict[tuple[str, str], Any] = {}  # a worker process's executor per run and kind, reused step after step
_CLIENTS: dict[str, Any] = {}  # a worker process's SDK clients, by what makes one (endpoint, credentials): kept across runs
KEPT = 8  # runs' executors (and SDK clients) a long-lived worker keeps; the oldest goes first


def _sdk_client(settings: ApiSettings, environ: dict[str, str]) -> Any:
    """The SDK client for `settings`' endpoint and `environ`'s credentials in this worker process, made once
    whatever the run: making one loads the machine's TLS certificates (40-90 ms of CPU on each worker, at
    each run's first step there), and its open connections serve the next run's steps too."""
    from agentfiles.executors.anthropic import make_client

    made = [settings.provider, settings.base_url, settings.timeout_s, settings.stall_s, sorted(environ.items())]
    key = digest_bytes(json.dumps(made).encode())  # the credentials are not kept as a key in the clear
    if key not in _CLIENTS:
        if len(_CLIENTS) >= KEPT:
            _CLIENTS.pop(next(iter(_CLIENTS)))
        _CLIENTS[key] = make_client(settings, environ)
    return _CLIENTS[key]


def _executor(order: WorkOrder) -> Executor:
    """The executor of `order` in this worker process, made once per run (the shared limits' handles are
    reused by the run's later steps here, the SDK client by later runs too)."""
    key = (order.run, order.executor)
    if key not in _WORKER:
        if len(_WORKER) >= KEPT:  # a long-lived worker serves many runs: the oldest run's goes
            _WORKER.pop(next(iter(_WORKER)))
        if order.executor == "command":
            from agentfiles.executors.command import CommandExecutor

            _WORKER[key] = CommandExecutor()
        else:
            from agentfiles.executors.anthropic import AnthropicExecutor
            from agentfiles.executors.governor import Governor

            assert order.settings is not None
            executor = AnthropicExecutor(order.settings, order.environ, _sdk_client(order.settings, order.environ))
            executor.governor = Governor(SharedLimits(order.run, order.settings))
            _WORKER[key] = executor
    return _WORKER[key]
