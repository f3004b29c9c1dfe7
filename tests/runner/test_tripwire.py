"""The tripwire on its own: what it counts as a change to the repository, with inotify naming the paths
and with a walk of the tree (where inotify cannot be had), which must agree."""

from __future__ import annotations

import os
import shutil
import time
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


def git_changes(wire) -> str:  # type: ignore[no-untyped-def]
    """What the tripwire's guard says before a git call: '' when git's own files are as the run found them."""
    from agentfiles.errors import PreconditionError

    try:
        wire.guard()
    except PreconditionError as exc:
        return exc.message
    return ""


def test_gits_config_hooks_and_info_stop_git_the_rest_of_git_does_not(tripwire) -> None:  # type: ignore[no-untyped-def]
    root, wire = tripwire
    git(root, "commit", "--allow-empty", "-qm", "moves refs and logs")
    assert changes(wire) == [] and git_changes(wire) == ""
    (root / ".git/hooks/post-commit").write_text("#!/bin/sh\n")
    with open(root / ".git/config", "a") as handle:
        handle.write("[core]\n\tfsmonitor = evil\n")
    (root / ".git/info/attributes").write_text("* filter=evil\n")
    assert "git's own files changed: .git/config, .git/hooks/post-commit, .git/info/attributes;" in git_changes(wire)
    assert changes(wire) == []  # not the work tree's


@pytest.mark.parametrize("place", ["config", "hooks/reference-transaction", "info/attributes",
                                   "worktrees/wt/config.worktree", "worktrees/wt/commondir", "worktrees/wt/info/sparse-checkout"])
def test_in_a_linked_worktree_git_files_are_watched_where_git_keeps_them(tmp_path: Path, place: str) -> None:
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git

    main = make_repo(tmp_path / "main", {"a.txt": "a\n"})
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    wire = Tripwire(tmp_path / "wt", Git(tmp_path / "wt"))
    try:
        assert git_changes(wire) == ""
        target = main / ".git" / place
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a") as handle:
            handle.write("\n")
        assert f"git's own files changed: {target.resolve()};" in git_changes(wire)
    finally:
        wire.close()


def test_a_linked_worktrees_link_to_its_git_folder_is_watched(tmp_path: Path) -> None:
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git

    main = make_repo(tmp_path / "main", {"a.txt": "a\n"})
    git(main, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "wt")
    wire = Tripwire(tmp_path / "wt", Git(tmp_path / "wt"))
    try:
        (tmp_path / "wt/.git").write_text(f"gitdir: {tmp_path}/elsewhere\n")
        assert "git's own files changed: .git;" in git_changes(wire)
    finally:
        wire.close()


def test_the_users_git_config_and_attributes_are_watched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git

    root = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    config = tmp_path / "global.gitconfig"
    config.write_text("[user]\n\tname = someone\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    wire = Tripwire(root, Git(root))
    try:
        xdg = Path(os.environ["XDG_CONFIG_HOME"])
        (xdg / "git").mkdir(parents=True)
        (xdg / "git/attributes").write_text("* filter=evil\n")
        with open(config, "a") as handle:
            handle.write("[filter \"evil\"]\n\tclean = touch PWNED\n")
        assert f"git's own files changed: {', '.join(sorted([str(config), str(xdg / 'git/attributes')]))};" in git_changes(wire)
    finally:
        wire.close()


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


def test_the_hooks_folder_is_where_core_hookspath_says(tmp_path: Path) -> None:
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git

    root = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    git(root, "config", "core.hooksPath", str(hooks))
    wire = Tripwire(root, Git(root))
    try:
        (hooks / "post-commit").write_text("#!/bin/sh\n")
        assert f"git's own files changed: {hooks / 'post-commit'};" in git_changes(wire)
    finally:
        wire.close()


def test_a_hooks_folder_that_is_a_link_is_watched_as_a_link_and_where_it_leads(tmp_path: Path) -> None:
    from agentfiles.runner.tripwire import Tripwire
    from agentfiles.storage.git import Git

    root = make_repo(tmp_path / "repo", {"a.txt": "a\n"})
    shutil.rmtree(root / ".git/hooks")
    (tmp_path / "shared-hooks").mkdir()
    os.symlink(tmp_path / "shared-hooks", root / ".git/hooks")
    wire = Tripwire(root, Git(root))
    try:
        (tmp_path / "shared-hooks/pre-commit").write_text("#!/bin/sh\n")
        assert "git's own files changed: .git/hooks/pre-commit;" in git_changes(wire)
        os.unlink(root / ".git/hooks")
        (tmp_path / "other").mkdir()
        os.symlink(tmp_path / "other", root / ".git/hooks")
        assert "git's own files changed: .git/hooks;" in git_changes(wire)  # the link itself
    finally:
        wire.close()


def watching_a_tick_after(  # type: ignore[no-untyped-def]
    root: Path, made: Path, request: pytest.FixtureRequest
):
    """A tripwire on `root` started once the kernel's coarse clock (the one it starts from) is past `made`'s
    change time, with inotify (else the test is skipped: the walk tests cover that case). Touching another
    file until its ctime moves is not enough: with multigrain timestamps (Linux 6.13 on) a file whose ctime
    was read gets a fine-grained one, ahead of the coarse clock."""
    from agentfiles.runner.tripwire import Tripwire, _coarse_now_ns
    from agentfiles.storage.git import Git

    old = os.stat(made).st_ctime_ns
    while _coarse_now_ns() <= old:
        time.sleep(0.001)
    wire = Tripwire(root, Git(root))
    request.addfinalizer(wire.close)
    if wire.watch.broken:
        pytest.skip("no inotify here: every file is stat'ed at the start instead (the walk tests cover it)")
    return wire


def test_an_ignored_tree_is_watched_without_a_stat_of_each_file_and_still_tells_every_change(  # type: ignore[no-untyped-def]
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A `.venv` (or `node_modules`) is listed at the start, not stat'ed file by file; a file inotify names
    is judged by its inode: the same as the listing gave and its change time older than the run, it is
    unchanged (opened for writing and closed without a write); else it changed (written, its mode changed)."""
    root = make_repo(tmp_path / "repo", {".gitignore": ".venv/\n", "a.txt": "a\n"})
    for n in range(50):
        (root / f".venv/lib/pkg{n % 5}").mkdir(parents=True, exist_ok=True)
        (root / f".venv/lib/pkg{n % 5}/m{n}.py").write_text(f"x = {n}\n")
    wire = watching_a_tick_after(root, root / ".venv/lib/pkg0/m0.py", request)
    assert set(wire.baseline) == {".gitignore", "a.txt"}  # the tracked files; of the rest, names only
    with open(root / ".venv/lib/pkg0/m0.py", "ab"):
        pass  # opened for writing, nothing written: inotify names it, its inode is unchanged
    (root / ".venv/lib/pkg1/m1.py").write_text("planted = True\n")
    os.chmod(root / ".venv/lib/pkg2/m2.py", 0o755)
    (root / ".venv/lib/pkg3/m3.py").unlink()
    (root / ".venv/lib/pkg4/new.py").write_text("new\n")
    (root / ".venv/lib/pkg4/gone.tmp").write_text("t\n")
    (root / ".venv/lib/pkg4/gone.tmp").unlink()  # made and removed again: nothing left to find
    assert changes(wire) == [".venv/lib/pkg1/m1.py", ".venv/lib/pkg2/m2.py", ".venv/lib/pkg3/m3.py",
                             ".venv/lib/pkg4/new.py"]
    assert changes(wire) == []
    (root / ".venv/lib/pkg4/new.py").write_text("again\n")  # taken in once found: a later change is found again
    assert changes(wire) == [".venv/lib/pkg4/new.py"]


def test_folders_renamed_into_place_chmods_and_reverted_edits_are_changes_though_ctimes_are_old(  # type: ignore[no-untyped-def]
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Files renamed into place with their folder keep their ctimes, older than the run; a chmod or a reverted
    uncommitted edit leaves git's bytes: each is still a change (a stat at the start would have told)."""
    root = make_repo(tmp_path / "repo", {".gitignore": ".venv/\n", "a.txt": "a\n", "run.sh": "echo\n",
                                         "src/x.py": "x = 1\n", "alt/x.py": "x = 2\n"})
    (root / ".venv/lib").mkdir(parents=True)
    (root / ".venv/lib/m.py").write_text("m = 1\n")
    (tmp_path / "elsewhere/lib").mkdir(parents=True)
    (tmp_path / "elsewhere/lib/m.py").write_text("m = 'planted'\n")
    (root / "a.txt").write_text("the user's uncommitted edit\n")
    wire = watching_a_tick_after(root, root / "a.txt", request)
    os.rename(root / ".venv/lib", tmp_path / "lib.old")  # a venv swapped for one from elsewhere
    os.rename(tmp_path / "elsewhere/lib", root / ".venv/lib")
    os.rename(root / "src", root / "tmp")  # two tracked folders swapped
    os.rename(root / "alt", root / "src")
    os.rename(root / "tmp", root / "alt")
    os.chmod(root / "run.sh", 0o777)
    git(root, "checkout", "--", "a.txt")  # git's bytes again: the user's edit is lost
    assert changes(wire) == [".venv/lib/m.py", "a.txt", "alt/x.py", "run.sh", "src/x.py"]
    assert changes(wire) == []


def test_a_folder_swapped_in_after_events_were_lost_is_still_a_change(  # type: ignore[no-untyped-def]
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A step can overflow inotify's queue (files made and removed again: nothing left to find) so that the
    next look is a walk; a folder it then swaps in from elsewhere holds files with ctimes older than the run,
    but other inodes than the listing at the start gave."""
    root = make_repo(tmp_path / "repo", {".gitignore": ".venv/\n", "a.txt": "a\n"})
    (root / ".venv/lib").mkdir(parents=True)
    (root / ".venv/lib/m.py").write_text("m = 1\n")
    (tmp_path / "elsewhere/lib").mkdir(parents=True)
    (tmp_path / "elsewhere/lib/m.py").write_text("m = 'planted'\n")
    wire = watching_a_tick_after(root, tmp_path / "elsewhere/lib/m.py", request)
    queue = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    for n in range(queue // 2 + 100):  # two events each
        (root / ".venv/flood").write_bytes(b"")
        (root / ".venv/flood").unlink()
    os.rename(root / ".venv/lib", tmp_path / "lib.old")
    os.rename(tmp_path / "elsewhere/lib", root / ".venv/lib")
    assert changes(wire) == [".venv/lib/m.py"]
    assert wire.watch.broken  # the look was a walk
