"""The status index and the states snapshot: a warm `agents status` reads neither YAML nor pydantic, and
still sees every change to what the states were derived from."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import age, git, task_text, write_files


def states(agents, root: Path) -> dict[str, tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    result = agents("-C", str(root), "status", "--json")
    assert result.code == 0, result.err
    return {t["id"]: (t["state"], t["reasons"]) for t in result.json["tasks"]}


@pytest.fixture
def done(project: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    write_files(project, {
        "data/a.txt": "aaa\n",
        "docs/one.md": "one\n",
        ".agents/tasks/copy.md": task_text("Copy", run="cat data/a.txt > out/copy.txt", inputs=["data/a.txt"],
                                           outputs=["out/copy.txt"]),
        ".agents/tasks/docs.md": task_text("Docs", run="cat docs/*.md > out/docs.txt", inputs=["docs/"],
                                           outputs=["out/docs.txt"], needs=["copy"]),
    })
    (project / "out").mkdir()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    assert agents("-C", str(project), "run").code == 0
    age(project)
    assert list(states(agents, project).values()) == [("done", []), ("done", [])]
    assert (project / ".agents" / "cache" / "states.json").exists()
    return project


def test_a_warm_status_says_what_a_cold_one_says(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Every field of every state, the isolation of the last run included, read back from the snapshot."""
    (done / ".agents/cache/states.json").unlink()
    cold = agents("-C", str(done), "status", "--json").json["tasks"]
    assert (done / ".agents/cache/states.json").exists()
    assert {t["isolation"] for t in cold} <= {"os", "folder"}  # as the handoffs record it
    assert agents("-C", str(done), "status", "--json").json["tasks"] == cold


def test_a_same_size_edit_is_seen(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    path = done / "data" / "a.txt"
    before = path.stat()
    path.write_text("bbb\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime: only ctime tells
    found = states(agents, done)
    assert found["copy"] == ("stale", ["input changed: data/a.txt"])
    assert found["docs"][0] == "stale"


def test_a_file_added_to_a_folder_input_is_seen(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(done, {"docs/two.md": "two\n"})
    age(done)
    assert states(agents, done)["docs"] == ("stale", ["input added: docs/two.md"])


def test_a_new_task_and_a_removed_handoff_are_seen(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(done, {".agents/tasks/new.md": task_text("New", run="true")})
    age(done)
    assert states(agents, done)["new"] == ("ready", ["never run"])
    (done / ".agents" / "handoffs" / "copy.md").unlink()
    found = states(agents, done)
    assert found["copy"] == ("ready", ["never run"]) and found["docs"][0] == "stale"


def test_an_output_removed_and_a_broken_task_are_seen(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (done / "out" / "docs.txt").unlink()
    assert states(agents, done)["docs"] == ("stale", ["output missing: out/docs.txt"])
    write_files(done, {".agents/tasks/copy.md": "---\ntitle: [\n---\n"})
    age(done)
    found = states(agents, done)
    assert found["copy"][0] == "invalid" and found["copy"][1][0].startswith(".agents/tasks/copy.md:")


def test_warm_status_reads_the_snapshot_and_nothing_else(done: Path) -> None:
    from agentfiles.storage.workspace import Workspace

    workspace = Workspace(done)
    assert set(workspace.states()) == {"copy", "docs"}
    assert workspace._facts is None and workspace._project is None  # nothing was derived or parsed


def test_reading_over_processes_gives_the_same_facts(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agentfiles.storage.index as index
    from agentfiles.storage import parallel
    from agentfiles.storage.workspace import Workspace

    files = {f".agents/tasks/t{i}.md": task_text(f"T{i}", run="true", needs=[f"t{i - 1}"] if i else []) for i in range(9)}
    files[".agents/tasks/broken.md"] = "---\ntitle: [\n---\n"
    files[".agents/tasks/each.md"] = task_text("Each", run="true", foreach="docs/*.md", outputs=["out/{stem}.txt"])
    files["docs/a.md"] = files["docs/b.md"] = "x\n"
    write_files(project, files)
    one = Workspace(project).facts()
    monkeypatch.setattr(index, "PARALLEL_FROM", 2)
    monkeypatch.setattr(parallel, "workers", lambda: 3)
    import shutil

    shutil.rmtree(project / ".agents" / "cache", ignore_errors=True)
    forked = Workspace(project).facts()
    assert forked.to_json() == one.to_json()
    assert forked.tasks["broken"].invalid and forked.tasks["each"].family


def test_a_task_reading_a_handoff_edited_alone_is_stale_not_invalid(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The index re-reads only the changed task file: the task whose handoff it reads is still a task."""
    write_files(project, {
        ".agents/tasks/first.md": task_text("First", run="echo one > out/first.txt", outputs=["out/first.txt"]),
        ".agents/tasks/second.md": task_text("Second", run="cat out/first.txt > out/second.txt",
                                             inputs=["out/first.txt", {"handoff": "first"}],
                                             outputs=["out/second.txt"], needs=["first"]),
    })
    (project / "out").mkdir()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    assert agents("-C", str(project), "run").code == 0
    age(project)
    assert states(agents, project)["second"] == ("done", [])
    path = project / ".agents" / "tasks" / "second.md"
    path.write_text(path.read_text() + "\nOne more line of intent.\n")
    old = time.time() - 30
    os.utime(path, (old, old))  # only this file's signature changes (age() would touch every file's ctime)
    assert states(agents, project)["second"] == ("stale", ["definition changed"])
    assert agents("-C", str(project), "validate").code == 0


def test_a_handoff_input_across_the_processes_split_is_known(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agentfiles.storage.index as index
    from agentfiles.storage import parallel
    from agentfiles.storage.workspace import Workspace

    files = {f".agents/tasks/t{i}.md": task_text(f"T{i}", run="true", needs=[f"t{i - 1}"] if i else [],
                                                 inputs=[{"handoff": f"t{i - 1}"}] if i else [])
             for i in range(9)}
    write_files(project, files)
    monkeypatch.setattr(index, "PARALLEL_FROM", 2)
    monkeypatch.setattr(parallel, "workers", lambda: 3)
    facts = Workspace(project).facts()
    assert {task_id: f.invalid for task_id, f in facts.tasks.items() if f.invalid} == {}


def test_a_never_run_task_sees_its_input_appear_and_go(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Whether a literal input exists decides a never-run task's state, so the snapshot watches it."""
    write_files(project, {
        "data/here.txt": "here\n",
        ".agents/tasks/needy.md": task_text("Needy", run="cat data/in.txt > out.txt", inputs=["data/in.txt"],
                                            outputs=["out.txt"]),
        ".agents/tasks/fed.md": task_text("Fed", run="cat data/here.txt > fed.txt", inputs=["data/here.txt"],
                                          outputs=["fed.txt"]),
    })
    age(project)
    assert states(agents, project)["needy"] == ("blocked", ["input missing: data/in.txt (no task produces it)"])
    assert (project / ".agents" / "cache" / "states.json").exists()
    write_files(project, {"data/in.txt": "now\n"})
    (project / "data" / "here.txt").unlink()
    old = time.time() - 60
    os.utime(project / "data" / "in.txt", (old, old))  # only the input changes (age() would touch every file)
    found = states(agents, project)
    assert found["needy"] == ("ready", ["never run"])
    assert found["fed"] == ("blocked", ["input missing: data/here.txt (no task produces it)"])


def test_a_generated_project_reads_the_same_cold_over_processes_alone_and_warm(
    tmp_path: Path, agents, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """`agents status` prints the same lines whether the files are read over several processes (a cold
    status at scale), in one, or not at all (warm), on a generated project with every kind of state."""
    import shutil
    import sys

    from agentfiles.storage import index, parallel

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from generate import make_agents_project

    root = tmp_path / "gen"
    make_agents_project(root, 60, commit=False)
    (root / "data" / "in-00007.txt").write_text("changed\n")  # stale, and so its dependents
    (root / "out" / "task-00020.txt").unlink()  # an output missing
    (root / ".agents" / "handoffs" / "task-00030.md").unlink()  # never run (pending: a need is stale)
    (root / ".agents" / "tasks" / "task-00041.md").write_text("---\ntitle: [unclosed\nrun: x\n---\n")
    handoff = root / ".agents" / "handoffs" / "task-00050.md"
    handoff.write_text(handoff.read_text().replace("status: done", "status: failed"))
    handoff = root / ".agents" / "handoffs" / "task-00044.md"  # read in one batch, compared in the next
    handoff.write_text(handoff.read_text() + "One more line.\n")
    age(root)

    def cold(workers: int) -> str:
        shutil.rmtree(root / ".agents" / "cache", ignore_errors=True)
        monkeypatch.setattr(index, "PARALLEL_FROM", 2)
        monkeypatch.setattr(parallel, "workers", lambda: workers)
        result = agents("-C", str(root), "status")
        assert result.code == 0, result.err
        return result.out

    alone, forked = cold(1), cold(3)
    assert forked == alone
    warm = agents("-C", str(root), "status")
    assert warm.out == forked and (root / ".agents" / "cache" / "states.json").exists()
    (root / ".agents" / "cache" / "states.json").unlink()  # derived again, by this process alone, from the index
    assert agents("-C", str(root), "status").out == forked
    lines = {line.split()[1]: line for line in forked.splitlines() if line[:1].isalpha() and " task-" in line}
    assert lines["task-00041"].split()[0] == "invalid" and ".agents/tasks/task-00041.md:3:" in lines["task-00041"]
    assert {lines[t].split()[0] for t in ("task-00007", "task-00020")} == {"stale"}
    assert lines["task-00030"].split()[0] == "pending" and lines["task-00050"].split()[0] == "failed"
    assert "input changed: handoff:task-00044" in lines["task-00045"]


def test_work_split_over_processes_comes_back_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches are claimed by whichever process is free; a child that fails, or dies halfway, loses nothing:
    what it did not send is redone in the main process, and every batch is absorbed once."""
    from agentfiles.storage import parallel

    monkeypatch.setattr(parallel, "workers", lambda: 3)
    items = list(range(200))
    main = os.getpid()

    def square(batch: list[int]) -> list[list[int]]:
        if os.getpid() == main:
            time.sleep(0.02)  # the main process is slow, as when the machine is busy: the children claim more
        return [[i, i * i, os.getpid()] for i in batch]

    def split(work) -> list[list[int]]:  # type: ignore[no-untyped-def]
        found: list[list[int]] = []
        parallel.in_parallel(work, items, 2, found.extend)
        assert sorted(row[:2] for row in found) == [[i, i * i] for i in items]  # each item once
        return found

    assert {row[2] for row in split(square)} - {main}  # the children did some of it

    def failing(batch: list[int]) -> list[list[int]]:
        if os.getpid() != main:
            raise RuntimeError("a child fails")
        return square(batch)

    assert {row[2] for row in split(failing)} == {main}

    def dying(batch: list[int]) -> list[list[int]]:
        if os.getpid() != main and batch[0] > 100:
            os._exit(9)  # killed halfway: some batches sent, the rest never
        return square(batch)

    assert {row[2] for row in split(dying) if row[0] < 100} - {main}  # a child sent what it did before it died


def test_status_as_a_program_prints_everything_before_it_ends(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The console script ends a status process at once (nothing left for Python's shutdown): what it
    printed, buffered or not, and the caches it wrote, are all there."""
    import shutil

    from conftest import run_program

    expected = agents("-C", str(done), "status").out
    for buffered in ("", "1"):
        shutil.rmtree(done / ".agents" / "cache")
        result = run_program("-C", str(done), "status", env={"PYTHONUNBUFFERED": buffered})
        assert (result.code, result.out, result.err) == (0, expected, "")
        assert (done / ".agents" / "cache" / "states.json").exists()
    as_json = run_program("-C", str(done), "status", "--json")
    assert as_json.code == 0 and as_json.out == agents("-C", str(done), "status", "--json").out


def test_a_file_dated_before_1970_does_not_hide_changes(done: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Its negative mtime cannot be packed as the other signatures are; the snapshot still sees every change."""
    old = done / "docs" / "one.md"
    os.utime(old, ns=(-86_400 * 10**9, -86_400 * 10**9))
    states(agents, done)
    states(agents, done)  # warm
    path = done / "data" / "a.txt"
    path.write_text("bbb\n")
    then = time.time() - 30
    os.utime(path, (then, then))
    assert states(agents, done)["copy"] == ("stale", ["input changed: data/a.txt"])


def test_a_warm_status_stating_over_two_processes_sees_a_change(done: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file the states came from, touched alone (its ctime changes, nothing else), is seen: whichever
    process stats it."""
    import orjson
    from agentfiles.storage import parallel, snapshot
    from agentfiles.storage.workspace import Workspace

    monkeypatch.setattr(snapshot, "PARALLEL_STATS", 2)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    workspace = Workspace(done)
    assert {s.state for s in workspace.states().values()} == {"done"}
    assert workspace._facts is None  # read from the snapshot, stat'ed by two processes
    recorded = orjson.loads((done / ".agents" / "cache" / "states.json").read_bytes())["files"]
    files = [f"{folder}/{name}" if folder else name for folder, names in recorded for name in names]
    assert len(files) >= 8
    for rel in files:
        before = (done / rel).stat()
        os.utime(done / rel, ns=(before.st_atime_ns, before.st_mtime_ns))
        workspace = Workspace(done)
        assert {s.state for s in workspace.states().values()} == {"done"}
        assert workspace._facts is not None, rel  # derived again
        again = Workspace(done)
        again.states()
        assert again._facts is None  # recorded anew: the next touch is checked against the snapshot


def test_a_task_file_that_is_a_symlink_in_the_repository_is_read(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Files are opened without following a symlink (no look at each file first); one that is a symlink is
    then judged by where it leads: within the repository it is read, out of it it is refused."""
    write_files(project, {"shared/t.md": task_text("Shared", run="true"), "elsewhere.md": task_text("Out", run="true")})
    os.symlink("../../shared/t.md", project / ".agents" / "tasks" / "linked.md")
    assert states(agents, project)["linked"] == ("ready", ["never run"])
    outside = project.parent / f"{project.name}-outside.md"
    outside.write_text(task_text("Outside", run="true"))
    os.symlink(str(outside), project / ".agents" / "tasks" / "away.md")
    (project / ".agents" / "cache" / "states.json").unlink(missing_ok=True)
    found = states(agents, project)
    assert found["linked"] == ("ready", ["never run"])
    assert found["away"][0] == "invalid" and "symlink" in found["away"][1][0]
