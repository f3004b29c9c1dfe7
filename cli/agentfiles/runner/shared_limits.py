"""A cluster run's rate limits (executors/governor.py `RateLimits`), one state for every worker and the
coordinator, kept in the Dask scheduler's process: a model call asks it once before it goes and tells it once
when it ends, each a single round trip (`run_on_scheduler`, atomic: the scheduler runs it in its event loop).
A call's slot is held in the name of its holder (a worker, or the coordinator's client): a slot whose holder
the scheduler no longer has, a worker that died mid-call, is free again at the next ask.

Only imported by a cluster run (runner/cluster.py): it imports Dask.
"""

from __future__ import annotations

from typing import Any

from agentfiles.core.models import ApiSettings
from agentfiles.executors.governor import RateLimits


class SharedLimits:
    """What a cluster run's governors ask (the methods of `RateLimits`), from a worker or the coordinator.
    Picklable: it holds only the run's name and settings."""

    def __init__(self, name: str, settings: ApiSettings) -> None:
        self.name = name
        self.settings = settings
        self._made: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "settings": self.settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["settings"])  # type: ignore[misc]

    def _client(self) -> Any:
        if "client" not in self._made:
            from distributed import get_client

            self._made["client"] = get_client()
        return self._made["client"]

    def _holder(self) -> tuple[str, str]:
        """Who holds the slots this process takes: its worker (address and id, which a restarted worker on
        the same address does not share), else the coordinator's client."""
        if "holder" not in self._made:
            from distributed import get_worker

            try:
                worker = get_worker()
                self._made["holder"] = (worker.address, worker.id)
            except ValueError:  # not in a worker: the coordinator
                self._made["holder"] = ("client", self._client().id)
        holder: tuple[str, str] = self._made["holder"]
        return holder

    def _on_scheduler(self, action: str, *args: Any) -> Any:
        return self._client().run_on_scheduler(on_scheduler, self.name, self.settings, action, self._holder(), *args)

    def ask(self, model: str, estimate: int) -> tuple[float, str]:
        wait, why = self._on_scheduler("ask", model, estimate)
        return wait, why

    def done(self, model: str, estimate: int, used: int | None) -> None:
        limit = self.settings.limit(model)
        if limit.concurrent or limit.tokens_per_minute:  # else the scheduler kept nothing of the call
            self._on_scheduler("done", model, estimate, used)

    def pause(self, model: str, seconds: float) -> None:
        self._on_scheduler("pause", model, seconds)

    def forget(self, client: Any) -> bool:
        """The run's state out of the scheduler (a long-lived one serves many runs), through `client`."""
        return bool(client.run_on_scheduler(on_scheduler, self.name, self.settings, "forget", ("", "")))


class _RunLimits:
    """In the scheduler's process: one run's `RateLimits`, with who holds each model's slots."""

    def __init__(self, settings: ApiSettings) -> None:
        self.limits = RateLimits(settings)
        self.holders: dict[str, list[tuple[str, str]]] = {}  # model -> a holder per slot taken

    def free_the_departed(self, scheduler: Any) -> None:
        """Give back the slots of holders the scheduler no longer has (a worker that died mid-call)."""
        for model, holders in self.holders.items():
            for holder in [h for h in holders if not _present(scheduler, h)]:
                holders.remove(holder)
                self.limits.done(model, 0, None)

    def ask(self, holder: tuple[str, str], model: str, estimate: int) -> tuple[float, str]:
        wait, why = self.limits.ask(model, estimate)
        if wait <= 0 and self.limits.settings.limit(model).concurrent:
            self.holders.setdefault(model, []).append(holder)
        return wait, why.replace(" in flight, ", " in flight across the cluster, ")

    def done(self, holder: tuple[str, str], model: str, estimate: int, used: int | None) -> None:
        if self.limits.settings.limit(model).concurrent:
            holders = self.holders.get(model, [])
            if holder not in holders:  # given back already: its holder was thought to have died
                return
            holders.remove(holder)
        self.limits.done(model, estimate, used)


def _present(scheduler: Any, holder: tuple[str, str]) -> bool:
    kind, ident = holder
    if kind == "client":
        return ident in scheduler.clients
    worker = scheduler.workers.get(kind)
    return worker is not None and worker.server_id == ident


_LIMITS: dict[str, _RunLimits] = {}  # in the scheduler's process: each cluster run's limits, by its name


def on_scheduler(name: str, settings: ApiSettings, action: str, holder: tuple[str, str], *args: Any,
                 dask_scheduler: Any = None) -> Any:
    """In the Dask scheduler (sent there by `SharedLimits`): `action` (ask, done, pause; forget at the
    run's end) on the run's limits, made on first use, for `holder`."""
    if action == "forget":
        return _LIMITS.pop(name, None) is not None
    run = _LIMITS.get(name)
    if run is None:
        run = _LIMITS[name] = _RunLimits(settings)
    holder = (str(holder[0]), str(holder[1]))  # a tuple again, whatever the transport made of it
    if action == "ask":
        if dask_scheduler is not None:
            run.free_the_departed(dask_scheduler)
        return run.ask(holder, *args)
    if action == "done":
        return run.done(holder, *args)
    return run.limits.pause(*args)
