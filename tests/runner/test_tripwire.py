"""The tripwire on its own: what it counts as a change to the repository, with inotify naming the paths
and with a walk of the tree (where inotify cannot be had), which must agree."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import git, make_repo


@pytest.fixture(params=["inotify", "walk"])
def tripwire(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from agentfiles.runner import watch
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git

    if request.param == "walk":
        monkeypatch.setattr(watch, "_libc", lambda: None)
    root = make_repo(tmp_path / "repo", {"a.txt": "a\n", "src/deep/b.txt": "b\n", ".agents/cache/x.json": "{}",
                                         "out/declared.txt": "old\n"})
    (root / "ignored.log").write_text("untracked\n")
    wire = Tripwire(root, Git(root))
    assert (wire.watch.broken is False) == (request.param == "inotify")
    yield root, wire
    wire.close()


def changes(wire, declared: set[str] | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    wire.start("s")
    return wire.finish("s", declared or set())


def test_nothing_changed_is_nothing(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    assert changes(wire) == []


def test_edits_creations_deletions_and_renames_are_found(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    (root / "a.txt").write_text("changed\n")
    (root / "new/deeper/still").mkdir(parents=True)
    (root / "new/deeper/still/planted.txt").write_text("x\n")
    os.rename(root / "src/deep", root / "src/moved")
    (root / "ignored.log").unlink()
    assert changes(wire) == ["a.txt", "ignored.log", "new/deeper/still/planted.txt", "src/deep/b.txt",
                             "src/moved/b.txt"]
    assert changes(wire) == []  # taken into the baseline once found


def test_gits_config_and_hooks_count_the_rest_of_git_does_not(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    git(root, "commit", "--allow-empty", "-qm", "moves refs and logs")
    assert changes(wire) == []
    (root / ".git/hooks/post-commit").write_text("#!/bin/sh\n")
    with open(root / ".git/config", "a") as handle:
        handle.write("[core]\n\tfsmonitor = evil\n")
    assert changes(wire) == [".git/config", ".git/hooks/post-commit"]


def test_agents_runtime_state_declared_outputs_and_touches_are_not_changes(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    (root / ".agents/cache/x.json").write_text('{"y": 1}')
    (root / ".agents/tmp").mkdir()
    (root / ".agents/tmp/journal").write_text("j")
    (root / "out/declared.txt").write_text("new\n")
    os.utime(root / "a.txt", None)  # touched: same bytes as git has
    assert changes(wire, {"out/declared.txt"}) == []


def test_what_the_runner_landed_is_not_a_change(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    (root / "landed").mkdir()
    (root / "landed/file.txt").write_bytes(b"data\n")
    wire.landed({"landed/file.txt": b"data\n"})
    assert changes(wire) == []


def test_a_removed_folder_is_every_file_it_held(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    shutil.rmtree(root / "src")
    assert changes(wire) == ["src/deep/b.txt"]
