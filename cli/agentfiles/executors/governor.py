"""The rate governor: every model call of a run asks it first, so parallel steps share the provider's limits
(`api.limits`: requests in flight and tokens a minute, per model) instead of each finding them out through
429s, and a `retry-after` the API sends one call holds back every call to that model until it has passed.

The state lives in `RateLimits`, kept by one lock: in this process for a run's threads; a cluster run keeps it
in the Dask scheduler's process, which the workers and the coordinator ask (runner/shared_limits.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from agentfiles.core.models import ApiSettings

WAIT_STEP_S = 0.25  # how often a waiting call looks again (and at the run's cancel event)
_SHARED: list[Any] = [None]  # limits shared beyond this process (a cluster run's), over every executor's own


def share(limits: Any) -> None:
    """Make every governor of this process ask `limits` (None: their own again) - for a cluster run."""
    _SHARED[0] = limits


def in_flight(count: int, model: str) -> str:
    """`1 call to MODEL in flight`, `5 calls to MODEL in flight`."""
    return f"{count} call{'s' if count != 1 else ''} to {model} in flight"


class RateLimits:
    """The shared state of every model's limits; `ask` says how long a call must wait, or takes its slot."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.state: dict[str, dict[str, float]] = {}

    def _of(self, model: str, now: float) -> dict[str, float]:
        limit = self.settings.limit(model)
        entry = self.state.setdefault(model, {"in_flight": 0, "tokens": float(limit.tokens_per_minute or 0),
                                              "stamp": now, "paused_until": 0.0})
        if limit.tokens_per_minute:  # the bucket refills at its rate per minute, up to one minute's worth
            rate = limit.tokens_per_minute / 60.0
            entry["tokens"] = min(float(limit.tokens_per_minute), entry["tokens"] + (now - entry["stamp"]) * rate)
        entry["stamp"] = now
        return entry

    def ask(self, model: str, estimate: int, now: float | None = None) -> tuple[float, str]:
        """(0, "") and the call's slot taken, or how long to wait before asking again and why."""
        now = time.time() if now is None else now
        limit = self.settings.limit(model)
        with self.lock:
            entry = self._of(model, now)
            if now < entry["paused_until"]:
                left = entry["paused_until"] - now
                return left, f"the API asked for a pause: every call to {model} waits {left:.1f} s"
            if limit.concurrent and entry["in_flight"] >= limit.concurrent:
                return WAIT_STEP_S, f"{in_flight(int(entry['in_flight']), model)}, its limit (api.limits)"
            need = min(estimate, limit.tokens_per_minute or 0)
            if limit.tokens_per_minute and entry["tokens"] < need:
                left = (need - entry["tokens"]) / (limit.tokens_per_minute / 60.0)
                return left, f"{model} is at its {limit.tokens_per_minute} tokens a minute (api.limits)"
            entry["in_flight"] += 1
            if limit.tokens_per_minute:
                entry["tokens"] -= estimate
            return 0.0, ""

    def done(self, model: str, estimate: int, used: int | None) -> None:
        """A call ended: its slot frees, and the tokens it really used replace its estimate."""
        with self.lock:
            entry = self._of(model, time.time())
            entry["in_flight"] = max(0, entry["in_flight"] - 1)
            if used is not None and self.settings.limit(model).tokens_per_minute:
                entry["tokens"] -= used - estimate

    def pause(self, model: str, seconds: float) -> None:
        """Hold back every call to `model` for `seconds` (a 429 or 529, with or without retry-after)."""
        now = time.time()
        with self.lock:
            entry = self._of(model, now)
            entry["paused_until"] = max(entry["paused_until"], now + seconds)


class Governor:
    """What a model executor asks around each call. `limits` is anything with the methods of `RateLimits`
    (the object itself, or a cluster's `SharedLimits`, which asks the Dask scheduler)."""

    def __init__(self, limits: Any) -> None:
        self.limits = limits

    @contextmanager
    def call(self, model: str, estimate: int, cancel: threading.Event | None = None,
             told: Callable[[str], None] | None = None) -> Iterator[dict[str, int | None]]:
        """Wait until a call to `model` of about `estimate` tokens may go, then hold its slot; set
        `["used"]` of what it yields to the tokens it really used. `told` hears why it waits, and again when
        the reason changes (a pause, then the calls in flight).
        Yields nothing (raises `Interrupted`) when `cancel` is set while it waits."""
        said = ""
        limits = _SHARED[0] if _SHARED[0] is not None else self.limits
        while True:
            wait, why = limits.ask(model, estimate)
            if wait <= 0:
                break
            kind = re.sub(r"[0-9.]+", "", why)  # the same wait with other figures is not told again
            if kind != said and told is not None:
                told(why)
                said = kind
            if cancel is not None and cancel.is_set():
                raise Interrupted(why)
            time.sleep(min(wait, WAIT_STEP_S)) if cancel is None else cancel.wait(min(wait, WAIT_STEP_S))
        slot: dict[str, int | None] = {"used": None}
        try:
            yield slot
        finally:
            limits.done(model, estimate, slot["used"])

    def pause(self, model: str, seconds: float) -> None:
        (_SHARED[0] if _SHARED[0] is not None else self.limits).pause(model, seconds)


class Interrupted(Exception):
    """The run was interrupted while a call waited for the governor."""
