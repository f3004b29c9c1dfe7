"""How `agents run` answers SIGINT (Ctrl-C) and SIGTERM (`kill`, a CI job's timeout): both stop it as an
interruption (KeyboardInterrupt: `error: interrupted`, exit 130); while steps run they first let the
running steps wind down, so that nothing lands half-done."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def terminate_interrupts() -> Iterator[None]:
    """Within the block SIGTERM raises KeyboardInterrupt, as SIGINT does, instead of ending the process
    where it stands without a word (a run stopped so before its steps started said nothing, exit -15)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class interrupts_cancel:
    """Within the block, SIGINT and SIGTERM set `cancelled` (steps stop, nothing half-lands) and then raise
    KeyboardInterrupt once the running steps have wound down."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled
        self.previous: dict[int, object] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.cancelled.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self.cancelled.is_set() and exc[0] is None:
            raise KeyboardInterrupt
