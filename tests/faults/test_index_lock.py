"""Another git process (an editor's `git status`) takes `.git/index.lock` while `agents run` commits: the run
completes, or stops with `error:` and `hint:`; every landed commit's files are in the work tree and the
index never holds older files than HEAD for them; once the lock is free, the next run leaves the
repository consistent with every step committed exactly once. (`AGENTS_TEST_FAULTS=all` adds a lock held
from the run's start to its end, which costs the lock's wait at every commit.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import git, isolate, make_repo, task_text, write_files
from consistency import assert_consistent, step_commit_counts
from killing import changed_paths, edit_definitions, index_behind, start
from watcher import Moment, Watcher, available

pytestmark = pytest.mark.skipif(not available(), reason="the moments are seen through Linux's inotify")

PIPELINE = {
    ".agents/tasks/first.md": task_text("First", run="seq 1 50 > out/first.txt", outputs=["out/first.txt"]),
    ".agents/tasks/second.md": task_text("Second", run="wc -l < out/first.txt > out/second.txt", needs=["first"],
                                         inputs=["out/first.txt"], outputs=["out/second.txt"]),
    ".agents/tasks/third.md": task_text("Third", run="cat out/second.txt > out/third.txt", needs=["second"],
                                        inputs=["out/second.txt"], outputs=["out/third.txt"]),
}
OUTPUTS = ("out/first.txt", "out/second.txt", "out/third.txt")
REF = ".git/refs/heads/main"
JOURNAL = ".agents/tmp/journal/*/journal.json"

LOCKS = [
    ("taken right after the 2nd commit landed, for half a second", Moment(REF, "in place", 2), 0.5, False),
    ("taken right after the 1st journal was written, for a second", Moment(JOURNAL, "in place", 1), 1.0, False),
    ("taken before the 3rd commit, and never given back during the run", Moment(f"{REF}.lock", "created", 3), None,
     False),
    *([("taken when the run starts, and never given back during the run", Moment(".agents/run.lock"), None, False)]
      if os.environ.get("AGENTS_TEST_FAULTS") == "all" else []),  # each commit waits for it: slow, like the one above
    ("taken when the run starts, with definitions to commit first", Moment(".agents/run.lock"), None, True),
    ("taken when the run starts, with definitions to commit first, for a second", Moment(".agents/run.lock"), 1.0,
     True),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    from agentfiles.commands.app import run

    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp_path_factory)
        root = make_repo(tmp_path_factory.mktemp("lock") / "repo")
        assert run(["-C", str(root), "init"]) == 0
        (root / ".agents" / "tasks" / "describe-project.md").unlink()
        write_files(root, PIPELINE)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "a pipeline")
        model = tmp_path_factory.mktemp("lock-model") / "repo"
        shutil.copytree(root, model, symlinks=True)
        assert run(["-C", str(model), "run"]) == 0
        return root, {rel: (model / rel).read_text() for rel in OUTPUTS}


def _take(lock: Path) -> None:
    taken = time.monotonic()
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return
        except FileExistsError:  # the run's own git holds it this instant: take it right after
            assert time.monotonic() - taken < 5
            time.sleep(0.001)


@pytest.mark.parametrize("moment,hold,uncommitted", [c[1:] for c in LOCKS], ids=[c[0] for c in LOCKS])
def test_index_lock_taken_mid_run(moment: Moment, hold: float | None, uncommitted: bool,  # type: ignore[no-untyped-def]
                                  template: tuple[Path, dict[str, str]], tmp_path: Path, agents) -> None:
    source, expected = template
    root = tmp_path / "repo"
    shutil.copytree(source, root, symlinks=True)
    if uncommitted:
        edit_definitions(root)
    head = git(root, "rev-parse", "HEAD").strip()
    users = changed_paths(root)
    lock = root / ".git" / "index.lock"
    watcher = Watcher([root])
    try:
        proc = start(root, "--jobs", "1")
        assert watcher.wait(moment, time.monotonic() + 60, lambda: proc.poll() is None), watcher.seen
        _take(lock)
        if hold is not None:
            time.sleep(hold)
            lock.unlink()
        out, _ = proc.communicate(timeout=120)
    finally:
        watcher.close()
    said = out.decode("utf-8", "replace")
    assert proc.returncode in (0, 2), said
    assert "Traceback" not in said and "this is a bug" not in said, said
    if proc.returncode == 2:
        assert "error:" in said and "hint:" in said, said
    committed = git(root, "ls-tree", "-r", "--name-only", "HEAD").split()
    for rel in [r for r in OUTPUTS if r in committed]:  # a landed output is in the work tree as landed
        assert (root / rel).read_bytes() == subprocess.run(["git", "-C", str(root), "show", f"HEAD:{rel}"],
                                                           capture_output=True).stdout, rel
    if lock.exists():
        lock.unlink()
    assert index_behind(root, users) == []
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.out + result.err
    assert_consistent(root)
    assert {rel: (root / rel).read_text() for rel in OUTPUTS} == expected
    counts = step_commit_counts(root, head)
    assert counts == {"first|done": 1, "second|done": 1, "third|done": 1}, counts


def test_staging_into_the_users_index_waits_for_its_lock(tmp_path: Path) -> None:
    """Git.stage (the definitions commit stages the user's index) waits while another git process holds
    `.git/index.lock`, as the index sync after a step commit does, instead of failing at once."""
    import threading

    from agentfiles.storage.git import Git

    repo = make_repo(tmp_path / "repo")
    write_files(repo, {"a.txt": "a\n"})
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    threading.Timer(0.4, lock.unlink).start()
    Git(repo).stage(["a.txt"])
    assert "a.txt" in git(repo, "ls-files", "--stage")
