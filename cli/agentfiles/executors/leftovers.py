"""Processes a step left behind, killed when it ends, even those that left its process group and session
(`setsid`, a double fork, `nohup cmd &` in a subshell). On Linux, while any step's process runs, the runner
is a child subreaper (prctl(PR_SET_CHILD_SUBREAPER), through ctypes): a process whose parent ended becomes
the runner's child instead of init's, so none of a step's processes can get out of the runner's tree. When
a step's process ends, each such adopted process that is the step's is stopped, then killed with everything
under it, before the step is judged or lands.

Which step an adopted process is from: the runner's own git calls and helpers stay in the runner's session,
and each step's process starts a session of its own, which its descendants keep unless they make another.
One in a step's session is that step's. One in a session of its own is from a step that was running when it
started (pids are handed out in order, so its pid tells): it is killed as soon as no step that could have
started it is still running, at the latest when the last step of the run ends. A cgroup would tell exactly,
but is rarely delegated to a user; bubblewrap's pid namespace does, which is why OS isolation needs none of
this. Processes a step has another program start (cron, systemd, a running tmux server) are not its
descendants and are not found; elsewhere than Linux only the step's process group is killed."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from agentfiles.executors.libc import libc

PR_SET_CHILD_SUBREAPER = 36
PROBE_LIMIT = 256  # fewer pids handed out than this since the oldest step started: look each up, else list /proc
REAP_PATIENCE_S = 2.0  # how long to wait for killed processes to be handed to the runner and reaped


class Leftovers:
    """The processes steps started (their first process, by pid) and what they left behind."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[int] = set()  # the first process of each step running now
        self.done: set[int] = set()  # those that ended since `base` (their sessions are theirs alone)
        self.base: int | None = None  # the pid of the oldest step process tracked: every pid after it is newer
        self.prctl = _prctl()
        self.limit = _pid_max()

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Around starting a step's process: no sweep runs until it is known (`started`)."""
        with self.lock:
            if not self.running and self.prctl is not None:
                self.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            try:
                yield
            finally:
                if not self.running and self.prctl is not None:  # it could not be started
                    self.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

    def started(self, pid: int) -> None:
        """Call inside `starting`, with the pid of the process just started."""
        if self.base is None:
            self.base = pid
        self.running.add(pid)

    def ended(self, pid: int) -> None:
        """The step process `pid` ended (and was waited for): kill what it left behind."""
        with self.lock:
            self.running.discard(pid)
            if self.prctl is None:
                return
            self.done.add(pid)
            doomed = self._sweep()
        _reap(doomed)  # still their subreaper: what they leave is handed to the runner, not to init
        with self.lock:
            if not self.running:
                self.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
                self.base, self.done = None, set()

    def _sweep(self) -> set[int]:
        """Stop, then kill, each adopted process no running step can claim, with all its descendants;
        returns them (to reap). Zombies adopted are returned too."""
        table = self._processes()
        me, mine = os.getpid(), os.getsid(0)
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        doomed: set[int] = set()
        for pid in children.get(me, []):
            _, sid, state = table[pid]
            if sid == mine or pid in self.running:
                continue  # the runner's own (git, a helper) or a step's first process
            if state == "Z" or sid in self.done or not self._claimed(pid, sid):
                doomed.add(pid)
        if not doomed:
            return doomed
        stopped: set[int] = set()
        for _ in range(50):  # stop the whole tree before killing, so that nothing forks out of it meanwhile
            tree = _descendants(doomed | stopped, children)
            fresh = tree - stopped
            if not fresh:
                break
            for pid in fresh:
                _signal(pid, signal.SIGSTOP)
            stopped |= fresh
            children = {}
            for pid, (ppid, _, _) in self._processes().items():
                children.setdefault(ppid, []).append(pid)
        for pid in stopped:
            _signal(pid, signal.SIGKILL)
        return stopped

    def _claimed(self, pid: int, sid: int) -> bool:
        """Whether a step still running may have started this process: its session is that step's, or the
        step started before it did."""
        return sid in self.running or any(self._order(step) < self._order(pid) for step in self.running)

    def _order(self, pid: int) -> int:
        """Where `pid` was handed out, counting from `base` (pids wrap around at pid_max)."""
        return (pid - (self.base or 0)) % self.limit

    def _processes(self) -> dict[int, tuple[int, int, str]]:
        """pid -> (parent, session, state) of each process started since `base`."""
        newest = _last_pid()
        found: dict[int, tuple[int, int, str]] = {}
        if newest is not None and self._order(newest) < PROBE_LIMIT:  # few pids handed out since: try each
            pids = [((self.base or 0) + n) % self.limit for n in range(self._order(newest) + 1)]
        else:
            try:
                pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
            except OSError:
                return found
        for pid in pids:
            if newest is not None and self._order(pid) > self._order(newest):
                continue
            fields = _fields(pid)
            if fields is not None:
                found[pid] = (int(fields[1]), int(fields[3]), fields[0].decode())
        return found


def _descendants(roots: set[int], children: dict[int, list[int]]) -> set[int]:
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pids: set[int]) -> None:
    """Wait for killed processes: each becomes the runner's child once its parent is gone."""
    deadline = time.monotonic() + REAP_PATIENCE_S
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    left.discard(pid)
            except ChildProcessError:  # not the runner's child (yet): done once it is dead
                if _state(pid) in (None, "Z"):
                    left.discard(pid)
        if left:
            time.sleep(0.005)


def _fields(pid: int) -> list[bytes] | None:
    """/proc/PID/stat after the command's name: state, parent, process group, session, ..."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _state(pid: int) -> str | None:
    fields = _fields(pid)
    return fields[0].decode() if fields else None


def _last_pid() -> int | None:
    """The pid handed out last (in this pid namespace)."""
    try:
        with open("/proc/loadavg", "rb") as handle:
            return int(handle.read().split()[4])
    except (OSError, IndexError, ValueError):
        return None


def _pid_max() -> int:
    try:
        with open("/proc/sys/kernel/pid_max", "rb") as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return 1 << 22


def _prctl():  # type: ignore[no-untyped-def]
    """libc's prctl, where a child subreaper can be had (Linux); None elsewhere."""
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc"):
        return None
    found = libc()
    try:
        prctl = found.prctl  # type: ignore[union-attr]
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    except AttributeError:  # no C library (None), or one without prctl
        return None
    return prctl


LEFTOVERS = Leftovers()  # one per process: the subreaper setting is the whole process's
