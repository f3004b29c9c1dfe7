"""Commits pipelined with running steps: a step's slot frees when it has executed, a committer lands the
executed steps (those waiting together, one commit each), and a dependent starts after its need's commit."""

from __future__ import annotations

from pathlib import Path

from conftest import git, task_text, write_files


def _events(err: str) -> list[str]:
    return [" ".join(line.split()[:2]) for line in err.splitlines() if line.startswith(("run ", "done "))]


def test_the_next_step_starts_before_the_last_one_has_landed(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/a.md": task_text("A", run="echo a > a.txt", outputs=["a.txt"]),
        ".agents/tasks/b.md": task_text("B", run="echo b > b.txt", outputs=["b.txt"]),
        ".agents/tasks/c.md": task_text("C", run="cat a.txt > c.txt", needs=["a"], inputs=["a.txt"], outputs=["c.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "three")
    result = agents("-C", str(project), "run", "--jobs", "1")
    assert result.code == 0, result.err
    events = _events(result.err)
    # With one slot, b starts as soon as a has executed, while a lands; c waits for a's commit.
    assert events.index("run b") < events.index("done a") < events.index("run c"), events
    assert git(project, "log", "--format=%s", "-1") == "agents(c): C\n"
    assert (project / "c.txt").read_text() == "a\n"
    assert git(project, "status", "--porcelain") == ""


def test_steps_executed_together_land_as_one_commit_each(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {f".agents/tasks/s{i}.md": task_text(f"S{i}", run=f"sleep 0.3; echo {i} > out/s{i}.txt",
                                                              outputs=[f"out/s{i}.txt"]) for i in range(6)})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "six")
    before = git(project, "rev-parse", "HEAD").strip()
    result = agents("-C", str(project), "--json", "run", "--jobs", "6")
    assert result.code == 0, result.err
    outcomes = result.json["outcomes"]
    assert len({o["commit"] for o in outcomes}) == 6
    for outcome in outcomes:
        sha, task = outcome["commit"], outcome["task"]
        assert git(project, "log", "-1", "--format=%s", sha).strip() == f"agents({task}): S{task[1:]}"
        assert sorted(git(project, "show", "--name-only", "--format=", sha).split()) == sorted([
            f".agents/handoffs/{task}.md", f"out/{task}.txt",
            *[f for f in git(project, "show", "--name-only", "--format=", sha).split() if f.startswith(".agents/runs/")],
        ])
        assert git(project, "show", f"{sha}:out/{task}.txt") == f"{task[1:]}\n"
    assert git(project, "rev-list", "--count", f"{before}..HEAD").strip() == "6"
    assert git(project, "for-each-ref", "refs/agents/") == ""  # the scratch ref of the batch is gone
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_batch_of_commits_is_all_or_nothing_and_keeps_modes_and_odd_names(repo: Path) -> None:
    from agentfiles.storage.commits import commit_batch
    from agentfiles.storage.git import Git

    write_files(repo, {"base.txt": "0\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    write_files(repo, {"a/x.txt": "1\n", '"quoted" name.txt': "2\n", "run.sh": "echo\n", "other.txt": "mine\n"})
    (repo / "run.sh").chmod(0o755)
    g = Git(repo)
    shas = commit_batch(g, [(["a/x.txt"], "one\n\nAgents-Run: r1\n"), (['"quoted" name.txt', "run.sh"], "two\n")])
    assert git(repo, "log", "--format=%H %s", "-2").splitlines() == [f"{shas[1]} two", f"{shas[0]} one"]
    assert git(repo, "show", "--name-only", "--format=", shas[0]).split() == ["a/x.txt"]
    assert git(repo, "ls-tree", shas[1], "run.sh").split()[0] == "100755"
    assert git(repo, "show", f'{shas[1]}:"quoted" name.txt') == "2\n"
    assert git(repo, "status", "--porcelain") == "?? other.txt\n"  # the index followed; the rest stays out
    assert g.landed == shas[1]


def test_a_batch_left_on_the_scratch_ref_by_a_failed_landing_does_not_stop_the_next(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/a.md": task_text("A", run="echo a > a.txt", outputs=["a.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a")
    tree = git(project, "write-tree").strip()
    stray = git(project, "commit-tree", tree, "-m", "a batch that never landed").strip()  # no common history
    git(project, "update-ref", "refs/agents/landing", stray)
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert git(project, "log", "-1", "--format=%s") == "agents(a): A\n"
    assert git(project, "for-each-ref", "refs/agents/") == ""


def test_a_run_runs_none_of_the_repositorys_hooks(project: Path, tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Step commits are made from git's plumbing without hooks (the docs say so): not even the hooks plumbing
    itself calls (reference-transaction on update-ref, post-index-change when the index is written)."""
    ran = tmp_path / "HOOKS"
    for hook in ("reference-transaction", "post-index-change", "post-checkout", "pre-commit", "post-commit"):
        path = project / ".git/hooks" / hook
        path.write_text(f"#!/bin/sh\necho {hook} >> {ran}\n")
        path.chmod(0o755)
    write_files(project, {".agents/tasks/a.md": task_text("A", run="echo a > a.txt", outputs=["a.txt"])})
    result = agents("-C", str(project), "run", "--branch", "agents/hooks")  # definitions committed, a switch, a step
    assert result.code == 0, result.err
    assert git(project, "log", "--format=%s", "-1") == "agents(a): A\n"
    assert not ran.exists(), ran.read_text()
