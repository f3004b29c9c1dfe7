"""One `agents run` at a time per repository: an advisory lock the kernel releases when its holder dies,
so a lock left by a killed process is simply taken over."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from agentfiles.errors import PreconditionError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, wait_s: float = 3.0) -> None:
        """Take the lock, waiting up to `wait_s`; raise PreconditionError naming the holder otherwise."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    os.close(fd)
                    raise PreconditionError(
                        f"another `agents run` is running in this repository ({holder})",
                        hint="wait for it to finish; a killed run releases the lock by itself",
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.write(fd, json.dumps(info).encode())
        self._fd = fd

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text() or "{}")
            return f"pid {info.get('pid', '?')}, started {info.get('started', '?')}"
        except (OSError, ValueError):
            return "holder unknown"

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                os.close(self._fd)  # closing drops the flock
                self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
