"""Caches written after the answer: a cold `agents status` that read many files leaves writing its caches
(18 MB at 10,000 tasks) to a process of its own and ends as soon as it has printed; the next command waits
for that process before it reads them. Real processes, a real FIFO, the real console entry point."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from agentfiles.storage.parallel import settled, workers
from agentfiles.storage.workspace import DETACH_FROM, WRITING
from conftest import age, git, run_program, task_text, write_files

pytestmark = pytest.mark.skipif(workers() < 2, reason="no second core, or no fork: caches are written at once")


def test_a_detached_writer_holds_neither_the_output_nor_its_readers(tmp_path: Path) -> None:
    """The program answers and ends while its writer waits (on a FIFO here); a reader waits until it is done."""
    fifo, out, lock = tmp_path / "go", tmp_path / "written", tmp_path / "writing.lock"
    os.mkfifo(fifo)
    program = textwrap.dedent(f"""
        from pathlib import Path
        from agentfiles.storage.parallel import detached

        def write():
            Path({str(fifo)!r}).read_text()  # until the test says go
            Path({str(out)!r}).write_text("done")

        print("detached" if detached(write, Path({str(lock)!r})) else "inline", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, "detached\n")  # ended, its pipes closed, while the writer waits
    assert not out.exists()
    waited = threading.Thread(target=settled, args=(lock,))
    waited.start()
    waited.join(0.3)
    assert waited.is_alive()  # the reader waits for the writer
    fifo.write_text("go")
    waited.join(30)
    assert not waited.is_alive() and out.read_text() == "done"
    settled(tmp_path / "no-such.lock")  # with no writer ever: at once


def test_a_cold_status_over_many_tasks_answers_before_its_caches_are_written(project: Path) -> None:
    tasks = {f".agents/tasks/t{n:04d}.md": task_text(f"T{n}", run=f"echo {n} > o{n}.txt", outputs=[f"o{n}.txt"])
             for n in range(DETACH_FROM)}
    write_files(project, tasks)
    age(project)
    cache = project / ".agents" / "cache"
    first = run_program("status", cwd=project)
    assert first.code == 0 and f"{DETACH_FROM} tasks: {DETACH_FROM} ready" in first.out
    assert (cache / WRITING).exists()  # the caches were left to a process of their own
    second = run_program("status", cwd=project)  # waits for it, then reads what it wrote
    assert second.code == 0 and second.out == first.out
    assert (cache / "states.json").exists() and (cache / "status.json").exists()


def test_a_small_status_writes_its_caches_itself(project: Path) -> None:
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo > o.txt", outputs=["o.txt"])})
    age(project)
    assert run_program("status", cwd=project).code == 0
    cache = project / ".agents" / "cache"
    assert (cache / "states.json").exists() and not (cache / WRITING).exists()


def later(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """Workspaces leave their cache writing to the list returned (not to a process), even for one task: the
    test then changes the repository before the writing, as a person may while a real writer is at work."""
    from agentfiles.storage import workspace

    left: list[Callable[[], None]] = []
    monkeypatch.setattr(workspace, "DETACH_FROM", 1)
    monkeypatch.setattr(workspace, "detached", lambda call, lock: left.append(call) or True)
    return left


def states_of(root: Path, write_later: bool = False) -> dict[str, str]:
    from agentfiles.storage.workspace import Workspace

    ws = Workspace(root)
    ws.write_later = write_later
    return {t: s.state for t, s in ws.states().items()}


def test_the_snapshot_vouches_for_what_was_read_not_what_is_there_when_it_is_written(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task file added and a file added under a glob input, right after the answer and before the writer
    wrote: the next status sees them (an input made then is seen already: its absence was recorded when
    the status looked for it)."""
    write_files(project, {
        ".agents/tasks/globby.md": task_text("Globby", run="cat extra/*.txt > g.txt", inputs=["extra/*.txt"],
                                             outputs=["g.txt"]),
        ".agents/tasks/needy.md": task_text("Needy", run="cat in.txt > n.txt", inputs=["in.txt"], outputs=["n.txt"]),
        "extra/a.txt": "a\n",
    })
    age(project)
    left = later(monkeypatch)
    assert states_of(project, write_later=True) == {"globby": "ready", "needy": "blocked"}
    added = {".agents/tasks/zz-new.md": task_text("New", run="echo > z.txt", outputs=["z.txt"]),
             "extra/b.txt": "b\n"}
    write_files(project, added)
    old = time.time() - 60  # as old as the rest: only the names and the files themselves tell
    for rel in added:
        os.utime(project / rel, (old, old))
    [write] = left
    write()
    assert (project / ".agents" / "cache" / "states.json").exists()
    assert states_of(project) == {"globby": "ready", "needy": "blocked", "zz-new": "ready"}


def test_a_task_added_after_the_facts_were_read_is_seen_by_the_next_status(project: Path) -> None:
    """`agents run` reads the facts before it asks for the states: the snapshot's folder names are those from
    before the facts were read, so a task file added in between is not vouched for as absent."""
    from agentfiles.storage.workspace import Workspace

    write_files(project, {".agents/tasks/a.md": task_text("A", run="echo > a.txt", outputs=["a.txt"])})
    age(project)
    ws = Workspace(project)
    ws.facts()  # as runner/reconcile.py does, before the plan asks for the states
    write_files(project, {".agents/tasks/b.md": task_text("B", run="echo > b.txt", outputs=["b.txt"])})
    old = time.time() - 60  # as old as the rest: only the folder's names tell
    os.utime(project / ".agents/tasks/b.md", (old, old))
    assert set(ws.states()) == {"a"}  # as read
    assert (project / ".agents/cache/states.json").exists()
    assert states_of(project) == {"a": "ready", "b": "ready"}


def test_a_writer_makes_no_folder_again(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caches removed, or the project moved, before the writer wrote: nothing is made again there."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo > o.txt", outputs=["o.txt"])})
    age(project)
    left = later(monkeypatch)
    states_of(project, write_later=True)
    moved = tmp_path / "moved"
    project.rename(moved)
    left.pop()()
    assert not project.exists() and not (moved / ".agents" / "cache" / "states.json").exists()
    states_of(moved, write_later=True)
    shutil.rmtree(moved / ".agents" / "cache")
    left.pop()()
    assert not (moved / ".agents" / "cache").exists()


def test_a_writer_holds_no_descriptor_of_the_command_but_its_lock(tmp_path: Path) -> None:
    """A caller reading the command's other descriptors (`3>&1` in a shell) sees them close when the command
    ends, not when its writer does."""
    fifo, lock = tmp_path / "go", tmp_path / "writing.lock"
    os.mkfifo(fifo)
    program = textwrap.dedent(f"""
        import os, subprocess, sys
        from pathlib import Path
        from agentfiles.storage.parallel import detached

        extra = int(sys.argv[1])
        detached(lambda: Path({str(fifo)!r}).read_text(), Path({str(lock)!r}))
    """)
    read_end, write_end = os.pipe()
    try:
        done = subprocess.run([sys.executable, "-c", program, str(write_end)], pass_fds=[write_end],
                              capture_output=True, text=True, timeout=60, check=False)
        os.close(write_end)
        assert done.returncode == 0, done.stderr
        ready, _, _ = select.select([read_end], [], [], 5)
        assert ready and os.read(read_end, 1) == b""  # closed: the writer, still waiting, does not hold it
    finally:
        os.close(read_end)
        fifo.write_text("go")
        settled(lock)


@pytest.mark.parametrize("command", [["status"], ["run", "--dry-run"], ["run"]])
def test_a_stopped_writer_delays_the_next_command_only_so_long(project: Path, command: list[str]) -> None:
    """A writer that never finishes (stopped, say) holds the next command up for SETTLE_PATIENCE_S; then the
    command reads what is there (each cache entry is checked against its file) and answers. Once: for the
    index and the snapshot together, and for a run that opens the project again after its checks."""
    import fcntl

    from agentfiles.storage.parallel import SETTLE_PATIENCE_S

    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo > o.txt", outputs=["o.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "task")
    lock = project / ".agents" / "cache" / WRITING
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        start = time.monotonic()
        shown = run_program(*command, cwd=project)
        waited = time.monotonic() - start
    assert shown.code == 0, shown.err
    assert SETTLE_PATIENCE_S <= waited < 2 * SETTLE_PATIENCE_S


def test_a_writer_still_at_work_is_never_waited_for_by_the_next_writer(tmp_path: Path) -> None:
    """The lock held (a stopped writer, say): the next one is not started and the caller writes itself."""
    import fcntl

    from agentfiles.storage.parallel import detached

    lock = tmp_path / "writing.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        start = time.monotonic()
        assert detached(lambda: None, lock) is False
        assert time.monotonic() - start < 1


FORK_FAILS = """
import errno, os, sys
real, failing = os.fork, sys.argv.pop(1).split(",")
def fork():  # the kernel's answer at a process limit (EAGAIN), for the forks of the functions named
    if sys._getframe(1).f_code.co_name in failing:
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
    return real()
os.fork = fork
from agentfiles.entry import main
main()
"""


@pytest.mark.parametrize("failing", ["detached", "in_parallel,in_background,detached"])
def test_a_process_that_cannot_be_forked_leaves_the_caller_to_do_its_work(project: Path, tmp_path: Path,
                                                                          failing: str) -> None:
    """No process to be had (a process limit, no memory for a copy of a large status), for the writer or for
    any of the forks a status makes: it reads, writes its caches itself and answers as ever, and the
    writer's lock is not left held."""
    import fcntl

    tasks = {f".agents/tasks/t{n:04d}.md": task_text(f"T{n}", run=f"echo {n} > o{n}.txt", outputs=[f"o{n}.txt"])
             for n in range(DETACH_FROM)}
    write_files(project, tasks)
    age(project)
    script = tmp_path / "fork_fails.py"
    script.write_text(FORK_FAILS)
    done = subprocess.run([sys.executable, str(script), failing, "status"], cwd=project, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{DETACH_FROM} tasks: {DETACH_FROM} ready" in done.stdout and done.stderr == ""
    cache = project / ".agents" / "cache"
    assert (cache / "states.json").exists() and (cache / "status.json").exists()
    with open(cache / WRITING) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nothing holds it
    again = run_program("status", cwd=project)
    assert again.code == 0 and again.out == done.stdout


def test_a_file_a_glob_matches_made_while_the_status_ran_is_seen_next_time(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A done step's glob input gains a file after the step's inputs were hashed but before the snapshot's
    sources were taken: the snapshot is not written, and the next status finds the step stale."""
    from agentfiles.storage import snapshot

    write_files(project, {
        ".agents/tasks/globby.md": task_text("Globby", run="cat extra/*.txt > g.txt", inputs=["extra/*.txt"],
                                             outputs=["g.txt"]),
        "extra/a.txt": "a\n",
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "task")
    assert run_program("run", cwd=project).code == 0
    shutil.rmtree(project / ".agents" / "cache", ignore_errors=True)
    age(project)
    real = snapshot._globs

    def meanwhile(root: Path, patterns: list[str]) -> list[list[object]]:
        (project / "extra" / "b.txt").write_text("b\n")
        old = time.time() - 60  # an old mtime (a copy keeping it): its inode's change still tells
        os.utime(project / "extra" / "b.txt", (old, old))
        return real(root, patterns)

    monkeypatch.setattr(snapshot, "_globs", meanwhile)
    assert states_of(project) == {"globby": "done"}  # as read, before the file came
    monkeypatch.setattr(snapshot, "_globs", real)
    assert states_of(project) == {"globby": "stale"}


def test_a_project_moved_while_its_status_ran_is_not_made_again(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentfiles.storage import snapshot

    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo > o.txt", outputs=["o.txt"])})
    age(project)
    moved = tmp_path / "moved"
    real = snapshot.snapshot_sources

    def moving(*args: object, **kwargs: object) -> dict[str, object]:
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        project.rename(moved)
        return found

    monkeypatch.setattr(snapshot, "snapshot_sources", moving)
    assert states_of(project) == {"t": "ready"}
    assert not project.exists()


def test_a_half_written_copy_goes_even_when_nothing_is_written_again(project: Path) -> None:
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo > o.txt", outputs=["o.txt"])})
    age(project)
    assert run_program("status", cwd=project).code == 0  # the caches are written
    half = project / ".agents" / "cache" / ".status.json.k1ll3d.tmp"
    half.write_bytes(b"{")
    old = time.time() - 120
    os.utime(half, (old, old))
    assert run_program("status", cwd=project).code == 0  # a warm one: it writes nothing
    assert not half.exists()


def test_what_a_killed_writer_half_wrote_is_removed_by_the_next_writer(project: Path) -> None:
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo > o.txt", outputs=["o.txt"])})
    age(project)
    cache = project / ".agents" / "cache"
    cache.mkdir(parents=True)
    half, young, other = cache / ".status.json.k1ll3d.tmp", cache / ".states.json.wr1t1ng.tmp", cache / "keep.tmp"
    for path in (half, young, other):
        path.write_bytes(b'{"version": [4, ')
    old = time.time() - 120
    os.utime(half, (old, old))
    os.utime(other, (old, old))
    assert run_program("status", cwd=project).code == 0
    assert not half.exists() and young.exists() and other.exists()
    assert (cache / "states.json").exists()
