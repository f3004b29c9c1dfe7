"""Scratch folders a killed process left in the temporary folder are removed by the next process of agents
that makes one of their kind: a real `agents run` killed with SIGKILL leaves its private git index, and
the next run's first commit clears it once it has been left alone long enough."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentfiles.core import scratch
from agentfiles.core.scratch import LEFT_ALONE_S, scratch_folder, sweep
from conftest import git, task_text, write_files


def dead_pid() -> int:
    """The pid of a process that has ended (and been waited for)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def left(tmp: Path, kind: str, pid: int | str, age_s: float, tail: str = "abcd1234") -> Path:
    folder = tmp / f"agents-{kind}-{pid}-{tail}"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "index").write_text("x")
    old = time.time() - age_s
    for path in (folder / "inner" / "index", folder / "inner", folder):
        os.utime(path, (old, old))
    return folder


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    monkeypatch.setattr(scratch, "_SWEPT", set())
    return tmp_path


def test_only_a_gone_processs_idle_folders_of_that_kind_are_removed(tmp: Path) -> None:
    gone = dead_pid()
    stale = left(tmp, "index", gone, LEFT_ALONE_S + 60)
    recent = left(tmp, "worker", gone, LEFT_ALONE_S + 60)  # another kind: its own first folder sweeps it
    busy = left(tmp, "index", gone, 60, "efgh5678")  # changed a minute ago: perhaps a process this one cannot see
    living = left(tmp, "index", os.getppid(), LEFT_ALONE_S + 60)
    odd = tmp / f"agents-index-{gone}"  # not a name scratch_folder makes
    odd.mkdir()
    os.utime(odd, (0, 0))
    link = tmp / f"agents-index-{gone}-link"
    link.symlink_to(tmp)
    made = Path(scratch_folder("index"))
    assert made.name.startswith(f"agents-index-{os.getpid()}-") and made.is_dir()
    assert not stale.exists()
    assert recent.exists() and busy.exists() and living.exists() and odd.exists() and link.is_symlink()
    again = left(tmp, "index", gone, LEFT_ALONE_S + 60, "ijkl9012")
    scratch_folder("index")
    assert again.exists()  # a process looks once per kind
    assert sweep("agents-index-") == [str(again)]


def test_names_it_never_makes_are_left_alone_and_never_stop_it(tmp: Path) -> None:
    """Anyone may make a folder in the temporary folder: a name that only looks like one of its own (a pid
    too large for the system, digits that are not ASCII, pid 0) is neither removed nor a reason to fail."""
    odd = [left(tmp, "index", pid, LEFT_ALONE_S + 60) for pid in ("99999999999999999999", "\u00b2", "0", "12345678")]
    made = Path(scratch_folder("index"))
    assert made.is_dir()
    assert all(folder.exists() for folder in odd)
    assert sweep("agents-index-") == []


def test_a_killed_runs_private_index_is_cleared_by_a_later_run(project: Path, tmp: Path) -> None:
    write_files(project, {
        ".agents/tasks/a.md": task_text("A", run="echo a > a.txt", outputs=["a.txt"]),
        ".agents/tasks/b.md": task_text("B", run="sleep 30; echo b > b.txt", outputs=["b.txt"], needs=["a"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    env = {**os.environ, "TMPDIR": str(tmp)}
    runner = subprocess.Popen([sys.executable, "-m", "agentfiles", "run"], cwd=project, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert runner.stderr is not None
    for line in runner.stderr:  # a landed, b started: the run's private index exists
        if line.startswith("run   b"):
            break
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    leftovers = list(tmp.glob(f"agents-index-{runner.pid}-*"))
    assert len(leftovers) == 1
    old = time.time() - LEFT_ALONE_S - 60
    for path in (*leftovers[0].iterdir(), leftovers[0]):
        os.utime(path, (old, old))
    done = subprocess.run([sys.executable, "-m", "agentfiles", "run", "a", "--force"], cwd=project, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not leftovers[0].exists()


def test_a_folder_changed_deep_inside_is_kept(tmp: Path) -> None:
    """A step of a process this one cannot see, writing a file deep in its folder: not left behind."""
    gone = dead_pid()
    folder = left(tmp, "worker", gone, LEFT_ALONE_S + 60)
    deep = folder / "inner" / "work" / "src"
    deep.mkdir(parents=True)
    (deep / "f.py").write_text("print(1)\n")
    old = time.time() - LEFT_ALONE_S - 60
    for path in (deep, deep.parent, folder / "inner", folder):
        os.utime(path, (old, old))
    assert sweep("agents-worker-") == []
    assert folder.exists()
