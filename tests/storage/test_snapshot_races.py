"""The snapshot of states (storage/snapshot.py) against files that change while a status looks: whatever
moment the change falls on (as the facts are read, as the snapshot's sources are taken, as the states are
derived), the next status says what a status with no caches says. Real files, a real project; the moment is
chosen by running the change inside the function that runs then."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import age, task_text, write_files


def states_of(root: Path) -> dict[str, str]:
    from agentfiles.storage.workspace import Workspace

    return {t: s.state for t, s in Workspace(root).states().items()}


def uncached(root: Path) -> dict[str, str]:
    """What a status says with no caches (which it then writes, replacing nothing: they are put back)."""
    cache = root / ".agents" / "cache"
    kept = cache.with_name("cache.kept")
    shutil.move(cache, kept)
    try:
        return states_of(root)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.move(kept, cache)


def old(path: Path) -> None:
    """Dated as the rest of the project: only its name, inode or ctime tells it is new."""
    then = time.time() - 60
    os.utime(path, (then, then), follow_symlinks=False)


def move_in(root: Path) -> None:
    os.rename(root / "elsewhere.txt", root / "in.txt")  # `mv`: the mtime stays old, the ctime is new


def remove_input(root: Path) -> None:
    (root / "in.txt").unlink()


def remove_item(root: Path) -> None:
    (root / "docs" / "b.md").unlink()


def add_item(root: Path) -> None:
    (root / "docs" / "c.md").write_text("c\n")
    old(root / "docs" / "c.md")


CHANGES: dict[str, Callable[[Path], None]] = {
    "an input moved in": move_in,
    "an input removed": remove_input,
    "a foreach item removed": remove_item,
    "a foreach item added": add_item,
}
# Where the change falls: the facts being read, the snapshot's sources being taken, the states being derived.
MOMENTS = {
    "reading": ("agentfiles.storage.index", "in_parallel"),
    "sources": ("agentfiles.storage.snapshot", "_globs"),
    "deriving": ("agentfiles.storage.workspace", "derive_states"),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_while_a_status_looks_is_seen_by_the_next(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                           change: str, moment: str) -> None:
    import importlib

    write_files(project, {
        ".agents/tasks/needy.md": task_text("Needy", run="cat in.txt > n.txt", inputs=["in.txt"], outputs=["n.txt"]),
        ".agents/tasks/each.md": task_text("Each", run="true", foreach="docs/*.md", outputs=["out/{stem}.txt"]),
        "docs/a.md": "a\n",
        "docs/b.md": "b\n",
        "elsewhere.txt" if change == "an input moved in" else "in.txt": "x\n",
    })
    age(project)
    module, name = MOMENTS[moment]
    where = importlib.import_module(module)
    real = getattr(where, name)
    done: list[bool] = []

    def meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not done:
            done.append(True)
            CHANGES[change](project)
        return real(*args, **kwargs)

    monkeypatch.setattr(where, name, meanwhile)
    states_of(project)  # whatever it saw; what it vouches for is the question
    monkeypatch.setattr(where, name, real)
    assert done, "the change was made"
    assert states_of(project) == uncached(project)


def test_a_link_to_nothing_is_not_a_missing_input(project: Path) -> None:
    """An input that is a link to nothing exists (the step is ready; its command will say what it finds): the
    snapshot taken while it was missing does not hold once it is there."""
    write_files(project, {
        ".agents/tasks/needy.md": task_text("Needy", run="cat in.txt > n.txt", inputs=["in.txt"], outputs=["n.txt"]),
    })
    age(project)
    assert states_of(project) == {"needy": "blocked"}
    os.symlink("nowhere.txt", project / "in.txt")
    old(project / "in.txt")
    assert states_of(project) == uncached(project) == {"needy": "ready"}


def test_what_an_output_glob_matches_decides_nothing_by_its_content(project: Path) -> None:
    """A file a glob matches that nothing reads (a step's log under its output glob, written again and again)
    leaves the snapshot standing: only its name is in it."""
    from agentfiles.core.paths import Layout
    from agentfiles.storage.snapshot import read_snapshot

    write_files(project, {".agents/tasks/logs.md": task_text("Logs", run="true", outputs=["logs/*.log"]),
                          "logs/a.log": "1\n"})
    age(project)
    states_of(project)
    layout = Layout(project)
    assert read_snapshot(layout, layout.cache / "states.json") is not None
    (project / "logs" / "a.log").write_text("22\n")
    old(project / "logs" / "a.log")
    assert read_snapshot(layout, layout.cache / "states.json") is not None
    (project / "logs" / "b.log").write_text("new\n")  # a new name: the glob's listing differs
    assert read_snapshot(layout, layout.cache / "states.json") is None
