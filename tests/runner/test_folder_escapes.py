"""Hostile steps with `isolation: folder`, where nothing confines a step's commands: what they do to git (its
config, hooks and info wherever git keeps them, HEAD) or leave running after they end must not make agents
run their code, land a commit of theirs, or outlive the step. Each is run as a user runs agents: as its own
program, from inside the repository (or a linked worktree of it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import git, run_program, task_text, write_files


def add_task(root: Path, name: str, **fields: object) -> None:
    write_files(root, {f".agents/tasks/{name}.md": task_text(name.title(), isolation="folder", **fields)})
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"task {name}")


def run(root: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_program("run", *args, cwd=root)


@pytest.fixture
def worktree(project: Path, tmp_path: Path) -> Path:
    """A linked worktree of the project (`git worktree add`): its `.git` is a file, and git's config, hooks
    and info are in the main repository's `.git`."""
    where = tmp_path / "wt1"
    git(project, "worktree", "add", "-q", str(where), "-b", "wt1")
    return where


def test_in_a_linked_worktree_a_step_planting_an_fsmonitor_in_the_common_config_stops_the_run(
    project: Path, worktree: Path, tmp_path: Path
) -> None:
    pwned = tmp_path / "PWNED"
    config = (project / ".git/config").resolve()
    add_task(worktree, "evil", outputs=["out.txt"],
             run=f"printf '[core]\\n\\tfsmonitor = touch {pwned}\\n' >> {config}; echo x > out.txt")
    head = git(worktree, "rev-parse", "HEAD")
    result = run(worktree)
    assert result.code == 2, result.err
    assert f"error: while step evil ran, git's own files changed: {config};" in result.err
    assert "hint:" in result.err and "Traceback" not in result.err
    assert git(worktree, "rev-parse", "HEAD") == head  # nothing landed
    assert not (worktree / "out.txt").exists()
    assert not pwned.exists()  # agents ran no git command after the change


@pytest.mark.parametrize("place", ["hooks/post-index-change", "info/attributes"])
def test_in_a_linked_worktree_a_planted_hook_or_attribute_stops_the_run(
    project: Path, worktree: Path, place: str
) -> None:
    target = (project / ".git" / place).resolve()
    add_task(worktree, "plant", outputs=["out.txt"], run=f"echo '# planted' >> {target}; echo x > out.txt")
    head = git(worktree, "rev-parse", "HEAD")
    result = run(worktree)
    assert result.code == 2 and f"git's own files changed: {target};" in result.err, result.err
    assert git(worktree, "rev-parse", "HEAD") == head


def test_a_filter_planted_before_a_check_is_never_run_by_agents(project: Path, tmp_path: Path) -> None:
    """The step's `run:` check is laid out in a checkout of HEAD (git read-tree -u), which would run a smudge
    filter: the change to git's files is found before that git call, not only when the step lands."""
    pwned = tmp_path / "PWNED_SMUDGE"
    add_task(project, "smudge", outputs=["out.txt"], acceptance=[{"run": "true"}],
             run='G=$(readlink -f /proc/$PPID/cwd/.git); echo "* filter=pwn" >> $G/info/attributes; '
                 f'git config --file $G/config filter.pwn.smudge "touch {pwned}; cat"; echo x > out.txt')
    head = git(project, "rev-parse", "HEAD")
    result = run(project)
    assert result.code == 2, result.err
    assert "error: while step smudge ran, git's own files changed: .git/config, .git/info/attributes;" in result.err
    assert not pwned.exists()
    assert git(project, "rev-parse", "HEAD") == head


MOVE_HEAD = ("cd /proc/$PPID/cwd && b=$(printf 'owned\\n' | git hash-object -w --stdin) && "
             "export GIT_INDEX_FILE=$(mktemp -u) && git read-tree HEAD && "
             "git update-index --add --cacheinfo 100644,$b,private.txt && t=$(git write-tree) && "
             "c=$(git commit-tree $t -p HEAD -m innocent) && git update-ref HEAD $c; cd - >/dev/null; echo x > out.txt")


def test_a_step_that_moves_head_lands_nothing_and_stops_the_run(project: Path) -> None:
    add_task(project, "refmove", outputs=["out.txt"], run=MOVE_HEAD)
    add_task(project, "later", outputs=["later.txt"], run="echo later > later.txt", needs=["refmove"])
    head = git(project, "rev-parse", "HEAD").strip()
    result = run(project, "--jobs", "1")
    assert result.code == 2, result.err
    moved = git(project, "rev-parse", "HEAD").strip()
    assert moved != head  # the step's commit is there, as it left it: agents does not rewrite the branch
    assert (f"error: while step refmove ran, HEAD (refs/heads/main) moved from {head[:10]} to {moved[:10]}, not by "
            "agents: nothing of the step landed and the run stopped") in result.err
    assert "git reflog" in result.err and "Traceback" not in result.err
    assert git(project, "log", "--format=%s", f"{head}..HEAD").splitlines() == ["innocent"]  # no step commit on it
    assert git(project, "log", "--all", "--format=%s", "--grep=Agents-Task: ") == ""
    assert not (project / "out.txt").exists() and not (project / "later.txt").exists()
    assert not (project / ".agents/handoffs/refmove.md").exists()


def test_a_process_a_step_left_in_a_session_of_its_own_cannot_plant_a_filter_after_it_landed(
    project: Path, tmp_path: Path
) -> None:
    """It would append a filter to git's config after the step's commit, for agents' own `git add` of the
    next run to run: it is killed when the step's command ends."""
    pwned = tmp_path / "PWNED_FILTER"
    plant = (f'cd /; sleep 3; echo \\"* filter=pwn\\" >> $G/info/attributes; '
             f'git config --file $G/config filter.pwn.clean \\"touch {pwned}; cat\\"')
    add_task(project, "late", outputs=["late.out"],
             run=f'G=$(readlink -f /proc/$PPID/cwd/.git); setsid sh -c "{plant}" </dev/null >/dev/null 2>&1 & '
                 "sleep 1; echo ok > late.out")
    write_files(project, {".agents/tasks/next.md": task_text("Next", outputs=["next.out"], run="echo hi > next.out")})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "task next")
    config = (project / ".git/config").read_text()
    result = run(project, "late")
    assert result.code == 0, result.err
    time.sleep(4)  # past the moment it would have written
    assert run(project, "next", "--force").code == 0
    assert not pwned.exists()
    assert (project / ".git/config").read_text() == config
    assert not (project / ".git/info/attributes").exists() or "pwn" not in (project / ".git/info/attributes").read_text()
