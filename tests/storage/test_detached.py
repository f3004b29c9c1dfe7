"""Caches written after the answer: a cold `agents status` that read many files leaves writing its caches
(18 MB at 10,000 tasks) to a process of its own and ends as soon as it has printed; the next command waits
for that process before it reads them. Real processes, a real FIFO, the real console entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from agentfiles.storage.parallel import settled, workers
from agentfiles.storage.workspace import DETACH_FROM, WRITING
from conftest import age, run_program, task_text, write_files

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
