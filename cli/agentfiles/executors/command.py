"""The deterministic executor: `run:` a shell command in the sandbox, with a scrubbed environment, confined
by the operating system where it can be, and a timeout that kills the whole process tree."""

from __future__ import annotations

import errno
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from agentfiles.executors.base import Runtime, StepRequest, StepResult
from agentfiles.executors.isolation import Isolation, confine, confined_env
from agentfiles.executors.leftovers import LEFTOVERS

OUTPUT_CAP = 64 * 1024  # bytes of stdout and of stderr kept in the run record (the tail)
KILL_GRACE_S = 2.0


def run_shell(
    command: str,
    cwd: str,
    env: dict[str, str],
    timeout: float | None,
    cancel: threading.Event | None = None,
    track: Any = None,
    isolation: Isolation | None = None,
) -> tuple[int | None, bytes, bytes, float, bool]:
    """Run `command` with /bin/sh in `cwd`, inside the OS sandbox when `isolation` says so (see
    `run_process`)."""
    argv = ["/bin/sh", "-c", command]
    if isolation is not None and isolation.mode == "os":
        argv, env = confine(argv, Path(cwd), isolation), confined_env(env)
        return run_process(argv, cwd, env, timeout, cancel, track=track, contained=True)
    return run_process(argv, cwd, env, timeout, cancel, track=track)


def run_process(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    timeout: float | None,
    cancel: threading.Event | None = None,
    stdin: bytes | None = None,
    track: Any = None,
    contained: bool = False,
) -> tuple[int | None, bytes, bytes, float, bool]:
    """Run `argv` in its own session; returns (exit code, stdout, stderr, seconds, timed out).
    Output goes to files, not pipes, so a background child holding them open cannot keep the step
    alive. On timeout the group gets SIGTERM, then SIGKILL after a grace period; processes the command
    left behind are killed when it ends, in its group or not (executors/leftovers.py), unless it is
    `contained`: run by `confine` in the OS sandbox, whose pid namespace ends them all with it (a sweep
    there would find nothing, and holds every other step's start and end for its while). The command is
    cancelled (killed) when `cancel` is set.

    With `track` (the run's registry of processes, which the next run stops when this one is killed) the
    command waits, before it execs, until it is written down there: a runner killed in between leaves
    nothing running, as the wait ends without the command when the runner is gone (`_gated`)."""
    # The input, when there is one, is a named file (the gate reopens it by name), which a runner killed
    # outright leaves behind; without one there is none to leave. Output goes to files without a name.
    named = tempfile.NamedTemporaryFile() if stdin is not None else nullcontext(None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, named as given:
        if stdin is not None:
            given.write(stdin)
            given.flush()
            given.seek(0)
        start = time.monotonic()
        gate: tuple[int, int] | None = None
        try:
            if track is not None:
                gate = os.pipe()
                argv = _gated(argv, env, cwd, given.name if stdin is not None else os.devnull)
            with nullcontext() if contained else LEFTOVERS.starting():
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdin=gate[0] if gate else given if stdin is not None else subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,  # its own session: what it starts is told apart by it (leftovers.py)
                )
                if not contained:
                    LEFTOVERS.started(proc.pid)
        except OSError as exc:
            _close(gate)
            return 127, b"", f"cannot start {argv[0]}: {exc.strerror}\n".encode(), 0.0, False
        timed_out = False
        deadline = None if timeout is None else start + timeout
        ended = _exit_signal(proc.pid)
        try:
            if gate is not None:
                os.close(gate[0])
                try:
                    track.add(proc.pid)
                    os.write(gate[1], b"go\n")  # written down: it may run
                finally:
                    os.close(gate[1])  # not written down (the registry failed): it ends before it starts
            while proc.poll() is None:
                if cancel is not None and cancel.is_set():
                    _kill_group(proc.pid, signal.SIGKILL)
                    proc.wait()
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(argv, timeout or 0)
                wait = 0.05 if left is None else min(0.05, left)
                if ended is not None:
                    select.select([ended], [], [], wait)  # wakes as the process ends
                    continue
                try:
                    proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid, signal.SIGKILL)
                proc.wait()
        except BaseException:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            if ended is not None:
                os.close(ended)
            _kill_group(proc.pid, signal.SIGKILL)
            if not contained:
                LEFTOVERS.ended(proc.pid)  # and whatever it left outside its group
            if track is not None:
                track.remove(proc.pid)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        return (None if timed_out else proc.returncode), _read_tail(out), _read_tail(err), seconds, timed_out


def _exit_signal(pid: int) -> int | None:
    """A descriptor that becomes readable when the process `pid` ends (Linux's pidfd), or None where there is
    none: Popen.wait(timeout) polls with sleeps growing to 50 ms, which added up to 19 ms to every command
    (a `run` call's bubblewrap ends at about 38 ms and was seen ending at 50)."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _gated(argv: list[str], env: dict[str, str], cwd: str, stdin: str) -> list[str]:
    """`argv` behind a gate: a shell that reads a line from its standard input (a pipe from the runner) and
    only then execs the command, with `stdin` (a file) as its standard input. The runner writes the line
    once the process is in its registry; if the runner dies first, the read finds no writer left and the
    shell ends without running the command. The program is looked up here, so that one that cannot be
    started still fails as Popen does (OSError: `cannot start x`)."""
    program = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH", os.defpath))
    if program is None or not os.path.exists(os.path.join(cwd, program)):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    if not os.path.isfile(os.path.join(cwd, program)) or not os.access(os.path.join(cwd, program), os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), argv[0])
    return ["/bin/sh", "-c", 'read -r go || exit 125; f=$1; shift; exec "$@" < "$f"', "agents-gate", stdin,
            program, *argv[1:]]


def _close(gate: tuple[int, int] | None) -> None:
    for fd in gate or ():
        os.close(fd)


def _read_tail(handle) -> bytes:  # type: ignore[no-untyped-def]
    size = handle.seek(0, os.SEEK_END)
    if size > OUTPUT_CAP:
        handle.seek(size - OUTPUT_CAP)
        return b"[... cut ...]\n" + handle.read()
    handle.seek(0)
    return handle.read()


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class CommandExecutor:
    name = "command"

    def execute(self, request: StepRequest, runtime: Runtime) -> StepResult:
        command = request.task.run or ""
        code, out, err, seconds, timed_out = run_shell(
            command, str(runtime.sandbox), request.env, request.timeout, runtime.cancel, runtime.track,
            request.isolation,
        )
        result = StepResult(
            ok=code == 0 and not timed_out,
            exit_code=code,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            duration_s=round(seconds, 3),
            record={"command": command, "command_s": round(seconds, 4)},
        )
        if timed_out:
            result.failure_kind = "hang"
            result.failure_detail = f"still running after {request.timeout:g} s; its process tree was killed"
        elif code != 0:
            result.failure_kind = "crash"
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            result.failure_detail = f"exit {code}" + (f": {last[0][:200]}" if last[0] else "")
        result.summary = f"Ran `{command}`: " + (
            "exit 0" if result.ok else (result.failure_detail or "failed")
        ) + f" in {seconds:.2f} s."
        return result
