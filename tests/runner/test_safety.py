"""One run at a time, and nothing half-landed: the lock, a real SIGKILL, and the journal's recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import git, run_program, task_text, write_files


@pytest.fixture
def slow(project: Path) -> Path:
    write_files(project, {
        "in.txt": "x\n",
        ".agents/tasks/slow.md": task_text(
            "Slow", run="sleep 2; cat in.txt > out.txt", inputs=["in.txt"], outputs=["out.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "slow")
    return project


def test_a_second_run_waits_then_names_the_holder(slow: Path) -> None:
    from agentfiles.storage.lock import RunLock

    lock = RunLock(slow / ".agents" / "run.lock")
    lock.acquire()
    try:
        started = time.monotonic()
        result = run_program("-C", str(slow), "run")
        assert result.code == 2
        assert f"another `agents run` is running in this repository (pid {os.getpid()}" in result.err
        assert "hint:" in result.err
        assert time.monotonic() - started >= 2.5  # it waited before giving up
    finally:
        lock.release()


def test_a_lock_left_by_a_killed_process_is_taken_over(slow: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from agentfiles.storage.lock import RunLock; "
         "RunLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)",
         str(slow / ".agents" / "run.lock")],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    result = run_program("-C", str(slow), "run")
    assert result.code == 0, result.err


def test_sigkill_during_a_step_lands_nothing_and_the_next_run_completes(slow: Path) -> None:
    head = git(slow, "rev-parse", "HEAD")
    proc = subprocess.Popen([sys.executable, "-m", "agentfiles", "-C", str(slow), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # inside `sleep 2`
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert git(slow, "rev-parse", "HEAD") == head
    assert git(slow, "status", "--porcelain") == ""
    assert not (slow / "out.txt").exists()
    result = run_program("-C", str(slow), "run")
    assert result.code == 0, result.err
    assert (slow / "out.txt").read_text() == "x\n"
    assert git(slow, "log", "-1", "--format=%s") == "agents(slow): Slow\n"


def _half_landed(root: Path, files: dict[str, bytes], *, commit: bool) -> str:
    """What a run killed after applying a step's files (and, with `commit`, after committing) leaves."""
    from agentfiles.storage.git import Git
    from agentfiles.storage.journal import Journal

    run_id = "20260101T000000Z-dead01"
    Journal(root / ".agents" / "tmp" / "journal", root, run_id).apply(files)
    if commit:
        Git(root).commit_paths(sorted(files), f"agents(slow): Slow\n\nAgents-Task: slow\nAgents-Run: {run_id}\n")
    return run_id


def test_recovery_rolls_back_a_step_that_did_not_commit(slow: Path) -> None:
    (slow / "out.txt").write_text("old\n")
    git(slow, "add", "out.txt")
    git(slow, "commit", "-qm", "old output")
    head = git(slow, "rev-parse", "HEAD").strip()
    _half_landed(slow, {"out.txt": b"half\n", ".agents/handoffs/slow.md": b"---\nbroken\n"}, commit=False)
    result = run_program("-C", str(slow), "run")
    assert result.code == 0, result.err
    assert "recovered the unfinished step of run 20260101T000000Z-dead01" in result.err
    assert (slow / "out.txt").read_text() == "x\n"
    assert git(slow, "rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert git(slow, "status", "--porcelain") == ""
    assert not any((slow / ".agents" / "tmp" / "journal").iterdir())


def test_recovery_keeps_a_step_that_committed(slow: Path) -> None:
    assert run_program("-C", str(slow), "run").code == 0
    handoff = (slow / ".agents/handoffs/slow.md").read_bytes()
    head = git(slow, "rev-parse", "HEAD")
    # The same step again, killed after its commit but before the journal was closed.
    _half_landed(slow, {".agents/handoffs/slow.md": handoff.replace(b"Ran", b"Ran again")}, commit=True)
    landed = git(slow, "rev-parse", "HEAD")
    assert landed != head
    result = run_program("-C", str(slow), "run")
    assert result.code == 0, result.err
    assert git(slow, "rev-parse", "HEAD") == landed
    assert b"Ran again" in (slow / ".agents/handoffs/slow.md").read_bytes()
    assert git(slow, "status", "--porcelain") == ""


def test_sigkill_at_any_moment_of_a_run_of_many_steps(project: Path) -> None:
    """Kill `agents run` at many moments (during steps, during commits); each time the next run
    leaves the repository consistent and completes the work."""
    tasks = {f".agents/tasks/t{i:02d}.md": task_text(f"T{i}", run=f"echo $AGENTS_RUN > out/t{i:02d}.txt",
                                                    outputs=[f"out/t{i:02d}.txt"]) for i in range(12)}
    write_files(project, tasks)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "many")
    for delay in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7):
        proc = subprocess.Popen([sys.executable, "-m", "agentfiles", "-C", str(project), "run", "--force"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = run_program("-C", str(project), "run")
        assert result.code == 0, (delay, result.err)
        status = git(project, "status", "--porcelain", "--untracked-files=all")
        assert status == "", (delay, status)
        states = run_program("-C", str(project), "status", "--json")
        assert {t["state"] for t in json.loads(states.out)["tasks"]} == {"done"}, delay


# ------------------------------------------------------------------ git's index held by another process


@pytest.fixture
def five(project: Path) -> Path:
    tasks = {f".agents/tasks/s{i}.md": task_text(f"Step {i}", run=f"echo {i} > out/s{i}.txt", outputs=[f"out/s{i}.txt"])
             for i in range(5)}
    write_files(project, tasks)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "five")
    return project


def test_a_held_index_lock_never_splits_head_from_the_work_tree(five: Path) -> None:
    lock = five / ".git" / "index.lock"
    lock.write_text("")
    result = run_program("-C", str(five), "run", "--jobs", "1")
    assert result.code == 0, result.err
    assert "index was locked" in result.err and "warning:" in result.err
    # Every landed commit's files are in the work tree, as committed.
    for i in range(5):
        assert git(five, "show", f"HEAD:out/s{i}.txt") == f"{i}\n"
        assert (five / f"out/s{i}.txt").read_text() == f"{i}\n"
    lock.unlink()
    again = run_program("-C", str(five), "run")
    assert again.code == 0, again.err
    assert "Nothing to run" in again.out
    assert git(five, "status", "--porcelain", "--untracked-files=all") == ""


def test_an_editor_running_git_status_in_a_loop_does_not_split_the_repository(five: Path) -> None:
    loop = subprocess.Popen(["/bin/sh", "-c", "while true; do git status >/dev/null 2>&1; done"], cwd=five)
    try:
        result = run_program("-C", str(five), "run", "--jobs", "2")
    finally:
        loop.kill()
        loop.wait()
    assert result.code == 0, result.err
    status = git(five, "status", "--porcelain", "--untracked-files=all")
    if status:  # the index may trail for a moment; the next run syncs it and nothing is reverted
        assert run_program("-C", str(five), "run").code == 0
        status = git(five, "status", "--porcelain", "--untracked-files=all")
    assert status == ""
    for i in range(5):
        assert (five / f"out/s{i}.txt").read_text() == f"{i}\n"


def test_recovery_with_the_index_still_locked_is_a_clear_error(five: Path) -> None:
    lock = five / ".git" / "index.lock"
    lock.write_text("")
    assert run_program("-C", str(five), "run", "s0").code == 0
    result = run_program("-C", str(five), "run")
    assert result.code == 2
    assert "error:" in result.err and "index is locked" in result.err and "remove .git/index.lock" in result.err
    assert "Traceback" not in result.err
    assert (five / "out/s0.txt").read_text() == "0\n"  # nothing of the landed step was undone
    lock.unlink()
