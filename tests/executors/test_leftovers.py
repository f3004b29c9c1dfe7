"""What a step's command leaves running is killed when the command ends, however it left the step's process
group: `setsid`, a double fork, a job of its own (executors/leftovers.py). Real processes, run as a step's
command is (executors/command.run_process), without the OS sandbox (whose pid namespace does this itself)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agentfiles.executors.command import run_process

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper is Linux's")

WAIT = 'while [ ! -s {f} ]; do sleep 0.01; done'  # until the leftover wrote its pid: it has left the group


@pytest.fixture
def leave(tmp_path: Path) -> str:
    """A script that writes its pid to the file it is given, then stays."""
    script = tmp_path / "leave.sh"
    script.write_text('echo $$ > "$1"; exec sleep 60\n')
    return f"sh {script}"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def pids(folder: Path, *names: str) -> list[int]:
    return [int((folder / name).read_text()) for name in names]


def command(script: str, folder: Path) -> tuple[int | None, bytes]:
    code, out, err, _, _ = run_process(["/bin/sh", "-c", script], str(folder), {"PATH": "/usr/bin:/bin"}, 30)
    return code, err


def test_what_a_command_left_outside_its_process_group_is_killed_when_it_ends(tmp_path: Path, leave: str) -> None:
    script = "\n".join([
        f"setsid {leave} setsid.pid </dev/null >/dev/null 2>&1 &",  # a session of its own
        f"(setsid {leave} double.pid </dev/null >/dev/null 2>&1 &)",  # and its parent gone: a daemon
        f"sh -c 'set -m; {leave} job.pid &' </dev/null >/dev/null 2>&1",  # a process group of its own
        f"({leave} background.pid </dev/null >/dev/null 2>&1 &)",  # the step's group, its parent gone
        *(WAIT.format(f=f) for f in ("setsid.pid", "double.pid", "job.pid", "background.pid")),
    ])
    code, err = command(script, tmp_path)
    assert code == 0, err
    left = pids(tmp_path, "setsid.pid", "double.pid", "job.pid", "background.pid")
    assert [pid for pid in left if alive(pid)] == []


def test_a_leftover_in_a_session_of_its_own_outlives_no_step_that_could_have_started_it(tmp_path: Path,
                                                                                        leave: str) -> None:
    """While another step runs that started before it, a process in a session of its own may be that step's:
    it is killed when that step ends too. One that kept the ended step's session is killed at once."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    go = tmp_path / "b/go"
    other = threading.Thread(target=command, args=(f"echo $$ > started; while [ ! -e {go} ]; do sleep 0.01; done",
                                                   tmp_path / "b"))
    other.start()
    try:
        while not (tmp_path / "b/started").exists():
            pass
        code, err = command(f"setsid {leave} setsid.pid </dev/null >/dev/null 2>&1 & "
                            f"sh -c 'set -m; {leave} job.pid &' </dev/null >/dev/null 2>&1; "
                            + "; ".join(WAIT.format(f=f) for f in ("setsid.pid", "job.pid")), tmp_path / "a")
        assert code == 0, err
        setsid, job = pids(tmp_path / "a", "setsid.pid", "job.pid")
        assert not alive(job)  # in step a's session: a's
        assert alive(setsid)  # step b was running when it started: it could be b's
    finally:
        go.touch()
        other.join()
    assert not alive(setsid)


RUNNER = """
import sys, time
from pathlib import Path
from agentfiles.executors.command import run_process

class Stuck:
    '''Writing the process down takes forever: the runner is killed in between.'''
    def add(self, pid):
        Path("registering").write_text(str(pid))
        time.sleep(600)
    def remove(self, pid):
        pass

run_process(["/bin/sh", "-c", "echo $$ > ran.pid; exec sleep 60"], ".", {"PATH": "/usr/bin:/bin"}, 60, track=Stuck())
"""


def test_a_runner_killed_before_it_wrote_the_command_down_leaves_it_never_started(tmp_path: Path) -> None:
    """The next run stops what the registry names; a command started but not yet written down would run on
    unseen: it waits, before it execs, until the runner has written it down, and ends if the runner is gone."""
    import os
    import signal
    import subprocess
    import time

    runner = subprocess.Popen([sys.executable, "-c", RUNNER], cwd=tmp_path)
    try:
        while not (tmp_path / "registering").exists():
            assert runner.poll() is None, "the runner ended before writing the process down"
            time.sleep(0.01)
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.wait()
    pid = int((tmp_path / "registering").read_text())
    deadline = time.monotonic() + 15  # patience, not a measure: the command's process ends at once, or never
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if alive(pid):
        os.killpg(pid, signal.SIGKILL)
        pytest.fail("the command ran on after its runner was killed, written down nowhere")
    assert not (tmp_path / "ran.pid").exists()


def _subreaper() -> int:
    """PR_GET_CHILD_SUBREAPER of this process (1 while the runner adopts what steps leave)."""
    import ctypes

    flag = ctypes.c_int(-1)
    assert ctypes.CDLL("libc.so.6").prctl(37, ctypes.byref(flag), 0, 0, 0) == 0  # a handle of its own: no argtypes
    return flag.value


def test_a_command_in_the_os_sandbox_is_left_to_its_pid_namespace(tmp_path: Path, leave: str) -> None:
    """The sandbox's pid namespace ends whatever the command leaves: the runner neither adopts nor sweeps
    for it (a sweep would find nothing, and would hold other steps' starts and ends for its while)."""
    from agentfiles.executors.command import run_shell
    from agentfiles.executors.isolation import Isolation, choose_mode
    from agentfiles.executors.leftovers import LEFTOVERS

    mode, note = choose_mode("auto")
    if mode != "os":
        pytest.skip(f"no OS sandbox: {note}")
    go = tmp_path / "go"
    script = (f"setsid {leave} setsid.pid </dev/null >/dev/null 2>&1 & {WAIT.format(f='setsid.pid')}; "
              f"echo $$ > started; while [ ! -e go ]; do sleep 0.01; done")
    done: list[tuple[int | None, bytes]] = []
    step = threading.Thread(target=lambda: done.append(run_shell(script, str(tmp_path), {"PATH": "/usr/bin:/bin"}, 30,
                                                                 isolation=Isolation("os"))[:3:2]))
    step.start()
    try:
        while not (tmp_path / "started").exists():
            assert step.is_alive(), done
        assert LEFTOVERS.running == set() and _subreaper() == 0  # nothing tracked while it runs
        leftover = pids(tmp_path, "setsid.pid")[0]  # its pid in the namespace: not one to look up outside
    finally:
        go.touch()
        step.join()
    assert done[0][0] == 0, done
    assert leftover > 0
    alive_inside = subprocess.run(["pgrep", "-f", f"sh {tmp_path}/leave.sh setsid.pid"], capture_output=True, check=False)
    assert alive_inside.returncode == 1, alive_inside.stdout  # nothing it started outlived it
