"""Work over forked processes: a cold `agents status` reads and hashes thousands of files, and a second
process on a second core halves that. Results come back as JSON over pipes. And work left to a process of
its own after a command has answered (`detached`): a cold status's caches are written while it prints."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson


def workers() -> int:
    import threading

    if sys.platform != "linux":  # fork is what makes a second process cheap; elsewhere read in one
        return 1
    if threading.active_count() > 1:  # a lock another thread holds would stay held in the child forever
        return 1
    try:
        return min(4, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return 1


def in_parallel(
    work: Callable[[list[Any]], list[Any]], items: list[Any], least: int, absorb: Callable[[list[Any]], None]
) -> None:
    """`absorb(work(batch))` for batches of `items`, over forked processes when there are `least` items or
    more. Each process claims one batch at a time (a batch number read from a shared pipe), so a process
    slowed by the machine's other work does fewer. A child sends each batch's result as it finishes it
    (JSON), and this process absorbs those between its own batches: when the last batch is done, little
    is left to wait for. Batches are absorbed in no set order; those a child did not send are redone
    here, so the answer never depends on the split."""
    jobs = workers()
    if jobs < 2 or len(items) < least:
        absorb(work(items))
        return
    size = max(1, min(100, len(items) // (jobs * 4)), -(-len(items) // 8192))  # 8,192 numbers fill no pipe
    batches = [items[i : i + size] for i in range(0, len(items), size)]
    claims, claims_in = os.pipe()
    os.write(claims_in, b"".join(n.to_bytes(4, "little") for n in range(len(batches))))
    os.close(claims_in)  # once every number is claimed, a read says so (end of file)

    def claimed() -> Iterator[int]:
        while len(number := os.read(claims, 4)) == 4:  # a pipe hands each read of 4 bytes whole
            yield int.from_bytes(number, "little")

    children = []
    for _ in range(jobs - 1):
        read_end, write_end = os.pipe()
        _widen(write_end)
        try:
            pid = os.fork()
        except OSError:  # a process limit reached, or no memory: those made (if any) and this one do it all
            os.close(read_end)
            os.close(write_end)
            break
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read_end)
            code = 0
            try:
                for n in claimed():
                    data = orjson.dumps([n, work(batches[n])])
                    _write_all(write_end, len(data).to_bytes(4, "little") + data)
            except BaseException:  # noqa: BLE001 - the parent redoes the batches not sent
                code = 1
            os._exit(code)
        os.close(write_end)
        os.set_blocking(read_end, False)
        children.append(_Child(pid, read_end))
    done: set[int] = set()
    for n in claimed():
        absorb(work(batches[n]))
        done.add(n)
        for child in children:
            child.receive(done, absorb, wait=False)
    os.close(claims)
    for child in children:
        child.receive(done, absorb, wait=True)
    for n, batch in enumerate(batches):
        if n not in done:
            absorb(work(batch))


def in_background(call: Callable[[], bytes]) -> Callable[[], bytes | None]:
    """Start `call` in a forked process (where `workers` allows one) and return what waits for its answer:
    the bytes it returned, or None when no process was started or it failed (the caller does it then)."""
    if workers() < 2:
        return lambda: None
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # a process limit reached, or no memory: the caller does it
        os.close(read_end)
        os.close(write_end)
        return lambda: None
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        code = 0
        try:
            _write_all(write_end, call())
        except BaseException:  # noqa: BLE001 - the parent does the work itself
            code = 1
        os._exit(code)
    os.close(write_end)

    def answer() -> bytes | None:
        chunks = []
        while data := os.read(read_end, 1 << 16):
            chunks.append(data)
        os.close(read_end)
        return b"".join(chunks) if os.waitpid(pid, 0)[1] == 0 else None

    return answer


def detached(call: Callable[[], None], lock: Path) -> bool:
    """Start `call` in a forked process that this one does not wait for, and return True; False where no
    process may be forked (the caller then calls it itself). The process holds an exclusive lock on the
    file `lock` until `call` is done (the file stays, so that a writer and its readers always meet on one):
    a reader that waits for that lock (`settled`) never works from what it is still writing. It keeps no
    other descriptor of this process (its standard streams are /dev/null), so that nothing reading this
    process's output waits for it, and it has a session of its own (a Ctrl-C at the terminal is not for it)."""
    import fcntl

    if workers() < 2:
        return False
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a writer before this one still at work (stopped, say), or a file system without locks:
        os.close(fd)  # the caller writes itself (each write replaces its file whole), never waiting for it
        return False
    try:
        pid = os.fork()
    except OSError:  # a process limit reached, or no memory for a copy of this (large) process
        os.close(fd)
        return False
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for stream in (0, 1, 2):
                os.dup2(null, stream)
            _close_all_but(0, 1, 2, fd)  # what the command's caller reads ends with the command
            call()
        finally:
            os._exit(0)
    os.close(fd)  # the lock stays the child's
    return True


SETTLE_PATIENCE_S = 5.0  # how long a command waits for a writer that does not finish (stopped, say)


def settled(lock: Path) -> None:
    """Wait until no process started by `detached` with this `lock` is still at work (at once when none is),
    for SETTLE_PATIENCE_S at most: what it writes is a cache, each entry checked against its file, and a
    command that reads the caches as they are meanwhile answers the same, only slower."""
    import fcntl
    import time

    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        deadline = time.monotonic() + SETTLE_PATIENCE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.005)
            except OSError:
                return  # a file system without locks: nothing was written detached there
    finally:
        os.close(fd)


def _close_all_but(*keep: int) -> None:
    """Close every descriptor of this process but `keep`."""
    try:
        open_now = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_now = list(range(3, 1024))
    for fd in open_now:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own descriptor, closed already


class _Child:
    """The reading end of a child's results: length-prefixed JSON records `[batch number, result]`."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.buffer = pid, fd, bytearray()

    def receive(self, done: set[int], absorb: Callable[[list[Any]], None], *, wait: bool) -> None:
        """Absorb the whole records sent so far (noting their batches in `done`); with `wait`, read until
        the child is gone."""
        if self.fd < 0:
            return
        if wait:
            os.set_blocking(self.fd, True)
        while True:
            try:
                data = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not data:
                os.close(self.fd)
                self.fd = -1
                os.waitpid(self.pid, 0)  # its records are whole or left out: its exit code changes nothing
                break
            self.buffer += data
        buffer, start = self.buffer, 0
        while len(buffer) >= start + 4:
            end = start + 4 + int.from_bytes(buffer[start : start + 4], "little")
            if len(buffer) < end:
                break  # the rest of this record is still on its way
            try:
                n, result = orjson.loads(buffer[start + 4 : end])
            except ValueError:  # not JSON: left out, so redone here
                n = None
            start = end
            if n is not None and n not in done:
                done.add(n)
                absorb(result)
        del buffer[:start]


def _widen(fd: int) -> None:
    """A pipe of 1 MiB (Linux; the most an unprivileged process may ask by default): a child seldom
    waits for this process to read."""
    import fcntl

    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
