"""`agents run` on real repositories: what lands, what does not, and how it reconciles."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import git, run_program, task_text, write_files


def commits(root: Path) -> list[str]:
    return git(root, "log", "--format=%s").splitlines()


def files_of(root: Path, rev: str = "HEAD") -> list[str]:
    return sorted(git(root, "show", "--name-only", "--format=", rev).split())


def states(agents, root: Path) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    return {t["id"]: t for t in agents("-C", str(root), "status", "--json").json["tasks"]}


@pytest.fixture
def greet(project: Path) -> Path:
    write_files(
        project,
        {
            "data/name.txt": "Ada\n",
            ".agents/tasks/greet.md": task_text(
                "Greet the user",
                run='printf "Hello %s\\n" "$(cat data/name.txt)" > out/greeting.txt',
                inputs=["data/name.txt"],
                outputs=["out/greeting.txt"],
                acceptance=[{"run": "grep -q Hello out/greeting.txt"}],
            ),
            ".agents/tasks/shout.md": task_text(
                "Shout it",
                run="tr a-z A-Z < out/greeting.txt > out/shout.txt",
                needs=["greet"],
                inputs=["out/greeting.txt", {"handoff": "greet"}],
                outputs=["out/shout.txt"],
            ),
        },
    )
    git(project, "add", "-A")
    git(project, "commit", "-qm", "pipeline")
    return project


def test_a_command_step_lands_as_one_commit(greet: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(greet), "run", "greet", "--no-deps")
    assert result.code == 0, result.err
    assert (greet / "out/greeting.txt").read_text() == "Hello Ada\n"
    assert commits(greet)[0] == "agents(greet): Greet the user"
    handoff = (greet / ".agents/handoffs/greet.md").read_text()
    run_id = next(line.split(": ")[1] for line in handoff.splitlines() if line.startswith("run: "))
    assert files_of(greet) == sorted(
        [".agents/handoffs/greet.md", f".agents/runs/{run_id}/record.json", "out/greeting.txt"]
    )
    message = git(greet, "log", "-1", "--format=%B")
    for trailer in (
        "Agents-Task: greet", f"Agents-Run: {run_id}", "Agents-Status: done", "Agents-Role: none",
        "Agents-Model: none",
    ):
        assert trailer in message.splitlines()
    expected = "sha256:" + hashlib.sha256(b"Ada\n").hexdigest()
    assert f"data/name.txt: {expected}" in handoff
    assert states(agents, greet)["greet"]["state"] == "done"
    assert git(greet, "status", "--porcelain") == ""


def test_reconcile_runs_what_is_not_done_and_nothing_twice(greet: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(greet), "run").code == 0
    assert commits(greet)[:2] == ["agents(shout): Shout it", "agents(greet): Greet the user"]
    before = len(commits(greet))
    again = agents("-C", str(greet), "run")
    assert again.code == 0 and "Nothing to run" in again.out
    assert len(commits(greet)) == before
    (greet / "data/name.txt").write_text("Bob\n")
    found = states(agents, greet)
    assert found["greet"]["state"] == "stale" and found["greet"]["reasons"] == ["input changed: data/name.txt"]
    plan = agents("-C", str(greet), "run", "--dry-run").out
    assert plan.splitlines() == [
        "greet: stale; input changed: data/name.txt",
        "shout: stale; upstream not done: greet (stale)  (after greet)",
    ]
    assert agents("-C", str(greet), "run").code == 0
    assert (greet / "out/shout.txt").read_text() == "HELLO BOB\n"
    assert len(commits(greet)) == before + 2
    assert {s["state"] for s in states(agents, greet).values()} == {"done"}
    # The user's own edit to the input is theirs to commit: no step swept it in.
    assert git(greet, "status", "--porcelain").strip() == "M data/name.txt"


def test_undeclared_write_fails_and_lands_nothing_but_the_record(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/sneaky.md": task_text(
        "Sneaky", run="echo ok > out.txt; echo gotcha > README.md", outputs=["out.txt"])})
    write_files(project, {"README.md": "original\n"})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    result = agents("-C", str(project), "run")
    assert result.code == 1
    assert "invalid_output: wrote undeclared files: README.md" in result.err
    assert (project / "README.md").read_text() == "original\n"
    assert not (project / "out.txt").exists()
    changed = files_of(project)
    assert ".agents/handoffs/sneaky.md" in changed and "out.txt" not in changed and "README.md" not in changed
    assert all(p.startswith(".agents/") for p in changed)
    assert "status: failed" in (project / ".agents/handoffs/sneaky.md").read_text()
    assert git(project, "status", "--porcelain") == ""
    assert states(agents, project)["sneaky"]["state"] == "failed"


def test_failing_check_keeps_the_working_tree_and_the_proposal(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text(
        "T", run="echo draft > out.txt", outputs=["out.txt"], acceptance=[{"run": "grep -q final out.txt"}])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "check_failed: check `grep -q final out.txt` exited 1" in result.err
    assert not (project / "out.txt").exists()
    proposed = [p for p in files_of(project) if p.endswith("/proposed/out.txt")]
    assert len(proposed) == 1 and (project / proposed[0]).read_text() == "draft\n"


def test_checks_see_the_repository_with_the_outputs(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "tests/check.sh": "test \"$(cat out.txt)\" = \"$(cat expected.txt)\"\n",
        "expected.txt": "42\n",
        ".agents/tasks/t.md": task_text("T", run="echo 42 > out.txt", outputs=["out.txt"],
                                        acceptance=[{"run": "sh tests/check.sh"}]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert git(project, "worktree", "list").count("\n") == 1  # the throwaway checkout is gone


def test_missing_output_and_crash_and_missing_input(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/lazy.md": task_text("Lazy", run="true", outputs=["out.txt"]),
        ".agents/tasks/crash.md": task_text("Crash", run="echo boom >&2; exit 3", outputs=["c.txt"]),
        ".agents/tasks/needy.md": task_text("Needy", run="cat in.txt > n.txt", inputs=["in.txt"], outputs=["n.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    before = states(agents, project)["needy"]
    assert (before["state"], before["reasons"]) == ("blocked", ["input missing: in.txt (no task produces it)"])
    dry = agents("-C", str(project), "run", "--dry-run", "needy")
    assert dry.code == 1
    assert "error: step needy would fail before it starts: declared input missing: in.txt" in dry.err
    result = agents("-C", str(project), "run", "--keep-going")
    assert result.code == 1
    assert "step needy failed: missing_input: declared input missing: in.txt" in result.err
    found = states(agents, project)
    assert found["lazy"]["reasons"] == ["invalid_output: declared output missing: out.txt"]
    assert found["crash"]["reasons"] == ["crash: exit 3: boom"]
    assert found["needy"]["state"] == "blocked"  # known before it started: nothing was committed for it
    assert not (project / ".agents/handoffs/needy.md").exists()
    assert not any("agents(needy)" in line for line in git(project, "log", "--format=%s").splitlines())


def test_a_run_whose_steps_would_fail_before_they_start_commits_nothing(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Known before anything runs (as --dry-run knows it): no definitions commit, no step; the message
    names what to fix, not a handoff that does not exist."""
    write_files(project, {
        ".agents/tasks/needy.md": task_text("Needy", run="cat in.txt > n.txt", inputs=["in.txt"], outputs=["n.txt"]),
    })
    head = git(project, "rev-parse", "HEAD")
    result = agents("-C", str(project), "run")
    assert result.code == 1
    assert "error: step needy would fail before it starts: declared input missing: in.txt" in result.err
    assert "agents show" not in result.err and "nothing ran and nothing was committed" in result.err
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "status", "--porcelain", "-uall") == "?? .agents/tasks/needy.md\n"  # as the user left it
    assert agents("-C", str(project), "run", "--json").json["known_failures"] == {
        "needy": "declared input missing: in.txt"}
    # With another step that can run: without --keep-going nothing runs (the run would stop at needy) ...
    write_files(project, {".agents/tasks/other.md": task_text("Other", run="echo hi > o.txt", outputs=["o.txt"]),
                          ".agents/tasks/after.md": task_text("After", run="cat n.txt > a.txt", inputs=["n.txt"],
                                                              outputs=["a.txt"], needs=["needy"])})
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "--keep-going" in result.err
    assert git(project, "rev-parse", "HEAD") == head
    # ... with it, the others run, and the definitions commit holds theirs only (not needy's, nor after's).
    result = agents("-C", str(project), "run", "--keep-going")
    assert result.code == 1
    assert "step needy failed: missing_input: declared input missing: in.txt" in result.err
    assert "see `agents show needy`" not in result.err
    defs = next(c for c in git(project, "log", "--format=%H %s").splitlines() if "commit the definitions" in c)
    assert files_of(project, defs.split()[0]) == [".agents/tasks/other.md"]
    assert git(project, "status", "--porcelain", "-uall", "--", ".agents/tasks").splitlines() == [
        "?? .agents/tasks/after.md", "?? .agents/tasks/needy.md"]


def test_secrets_are_withheld_unless_declared(project: Path, agents, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    monkeypatch.setenv("DB_PASSWORD_FILE", "/x")
    monkeypatch.setenv("DEPLOY_TOKEN", "allowed-value")
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    write_files(project, {".agents/tasks/env.md": task_text(
        "Env", run="env | sort > env.txt", outputs=["env.txt"], env=["DEPLOY_TOKEN"], publish_secrets=["DEPLOY_TOKEN"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    assert agents("-C", str(project), "run").code == 0
    seen = (project / "env.txt").read_text()
    assert "sk-ant-secret-value" not in seen and "ANTHROPIC_API_KEY" not in seen
    assert "GITHUB_TOKEN" not in seen and "DB_PASSWORD_FILE" not in seen
    assert "DEPLOY_TOKEN=allowed-value" in seen and "PLAIN_SETTING=visible" in seen
    assert "AGENTS_TASK=env" in seen and "AGENTS_OUTPUTS=env.txt" in seen
    record = next((project / ".agents/runs").glob("*/record.json")).read_text()
    assert "ANTHROPIC_API_KEY" in json.loads(record)["env_withheld"]
    # No file anywhere in the repository or its history holds the secret.
    assert "sk-ant-secret-value" not in git(project, "log", "-p", "--all")


def test_the_sandbox_holds_only_the_declared_inputs(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "secret.txt": "do not read\n",
        "data/in.txt": "in\n",
        ".agents/tasks/look.md": task_text("Look", run="find . -type f ! -name seen.txt | sort > seen.txt; cat secret.txt >> seen.txt || true",
                                           inputs=["data/in.txt"], outputs=["seen.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    assert agents("-C", str(project), "run").code == 0
    assert (project / "seen.txt").read_text() == "./data/in.txt\n"


def test_a_run_leaves_nothing_in_the_temporary_folder(greet: Path) -> None:
    """Each step removes its sandbox, and the run the repository's folder of sandboxes once it is empty: a
    folder left per run piled up by the thousand in /tmp."""
    tmp = Path(os.environ["TMPDIR"])
    ran = run_program("-C", str(greet), "run", "--jobs", "2")
    assert ran.code == 0, ran.err
    assert (greet / "out/shout.txt").read_text() == "HELLO ADA\n"
    assert sorted(p.name for p in tmp.iterdir() if p.name.startswith("agents-")) == []


def test_uncommitted_edits_to_outputs_are_refused_unless_forced(greet: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(greet), "run").code == 0
    (greet / "out/greeting.txt").write_text("my own edit\n")
    (greet / "data/name.txt").write_text("Cy\n")
    result = agents("-C", str(greet), "run")
    assert result.code == 2
    assert "declared outputs have uncommitted changes: out/greeting.txt" in result.err and "--force" in result.err
    assert (greet / "out/greeting.txt").read_text() == "my own edit\n"
    assert agents("-C", str(greet), "run", "--force").code == 0
    assert (greet / "out/greeting.txt").read_text() == "Hello Cy\n"


def test_other_staged_and_unstaged_changes_stay_out_of_step_commits(greet: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(greet, {"notes.md": "staged\n", "scratch.md": "unstaged\n"})
    git(greet, "add", "notes.md")
    assert agents("-C", str(greet), "run").code == 0
    for rev in ("HEAD", "HEAD~1"):
        assert "notes.md" not in files_of(greet, rev) and "scratch.md" not in files_of(greet, rev)
    status = git(greet, "status", "--porcelain").splitlines()
    assert "A  notes.md" in status and "?? scratch.md" in status


def test_timeout_is_a_hang_and_kills_the_process_tree(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "child-alive"
    write_files(project, {".agents/tasks/slow.md": task_text(
        "Slow", run=f"(sleep 3; touch {marker}) & sleep 30", outputs=["o.txt"], timeout=0.5)})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "hang: still running after 0.5 s" in result.err
    import time

    time.sleep(3.5)
    assert not marker.exists()


def test_jobs_keep_going_and_skips(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/bad.md": task_text("Bad", run="exit 1", outputs=["b.txt"]),
        ".agents/tasks/after-bad.md": task_text("After bad", run="echo > a.txt", needs=["bad"], outputs=["a.txt"]),
        ".agents/tasks/fine.md": task_text("Fine", run="echo > f.txt", outputs=["f.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    result = agents("-C", str(project), "--json", "run", "--keep-going", "--jobs", "2")
    assert result.code == 1
    data = result.json
    outcome = {o["task"]: o["status"] for o in data["outcomes"]}
    assert outcome == {"bad": "failed", "fine": "done"}
    assert data["skipped"] == [{"task": "after-bad", "reason": "needs bad, which failed"}]


def test_foreach_runs_one_step_per_match(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "docs/a.md": "one two\n",
        "docs/b.md": "three\n",
        ".agents/tasks/count.md": task_text(
            "Count {name}", foreach="docs/*.md", run="wc -w < {item} | tr -d ' ' > counts/{stem}.txt",
            inputs=["{item}"], outputs=["counts/{stem}.txt"]),
        ".agents/tasks/total.md": task_text(
            "Total", run="cat counts/*.txt | paste -sd+ - | bc > total.txt", needs=["count"],
            inputs=["counts/*.txt"], outputs=["total.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    assert agents("-C", str(project), "validate").code == 0
    assert agents("-C", str(project), "run").code == 0, "run failed"
    assert (project / "counts/a.txt").read_text() == "2\n" and (project / "total.txt").read_text() == "3\n"
    assert {"agents(count@docs--a.md): Count a.md", "agents(count@docs--b.md): Count b.md"} <= set(commits(project))
    write_files(project, {"docs/c.md": "four five six\n"})
    found = states(agents, project)
    assert found["count@docs--c.md"]["state"] == "ready" and found["count"]["state"] == "ready"
    assert agents("-C", str(project), "run").code == 0
    assert (project / "total.txt").read_text() == "6\n"
    assert {s["state"] for s in states(agents, project).values()} == {"done"}


def test_model_steps_are_refused_before_anything_runs(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/a.md": task_text("A", run="echo > a.txt", outputs=["a.txt"]),
        ".agents/tasks/b.md": task_text("B", role="developer", outputs=["b.md"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    head = git(project, "rev-parse", "HEAD")
    result = agents("-C", str(project), "run")
    assert result.code == 2 and "hint:" in result.err
    assert git(project, "rev-parse", "HEAD") == head


def test_show_and_log(greet: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(greet), "run").code == 0
    shown = agents("-C", str(greet), "show", "greet")
    assert shown.code == 0
    assert "greet  done  run" in shown.out and "command: printf" in shown.out and "exit code: 0" in shown.out
    data = agents("-C", str(greet), "show", "greet", "--json").json
    assert data["handoff"]["status"] == "done" and data["record"]["exit_code"] == 0
    logged = agents("-C", str(greet), "log", "--json").json["steps"]
    assert [s["task"] for s in logged] == ["shout", "greet"]
    assert logged[1]["run"] == data["handoff"]["run"]
    old_run = data["handoff"]["run"]
    (greet / "data/name.txt").write_text("Zed\n")
    assert agents("-C", str(greet), "run").code == 0
    earlier = agents("-C", str(greet), "show", "greet", "--run", old_run, "--json").json
    assert earlier["handoff"]["run"] == old_run
    assert agents("-C", str(greet), "show", "nope").code == 2
    assert agents("-C", str(greet), "show", "shout", "--run", "nope").code == 2


def test_agents_run_outside_a_project(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(tmp_path), "run")
    assert result.code == 2 and result.err.startswith("error: not inside a git repository")


def test_run_refuses_invalid_projects_and_unknown_tasks(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/a.md": task_text("A", run="true", needs=["ghost"])})
    result = agents("-C", str(project), "run")
    assert result.code == 2 and "unknown task 'ghost' in needs" in result.err
    os.unlink(project / ".agents/tasks/a.md")
    result = agents("-C", str(project), "run", "nope")
    assert result.code == 2 and "unknown task: nope" in result.err


def test_foreach_placeholders_in_commands_are_words_not_code(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "injected"
    write_files(project, {
        f"docs/x$(touch {marker}).md": "a b\n",
        "docs/with space.md": "c\n",
        ".agents/tasks/copy.md": task_text("Copy", foreach="docs/*.md", run="cp {item} out/{name}",
                                           inputs=["{item}"], outputs=["out/{name}"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert not marker.exists()
    assert (project / "out/with space.md").read_text() == "c\n"


def test_no_deps_refuses_a_step_whose_needs_are_not_done(greet: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(greet), "run", "shout", "--no-deps")
    assert result.code == 2 and "shout needs tasks that are not done: greet (ready)" in result.err
    assert agents("-C", str(greet), "run", "greet", "--no-deps").code == 0
    assert agents("-C", str(greet), "run", "shout", "--no-deps").code == 0


def test_a_step_rewriting_its_input_in_place_settles(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"data/list.txt": "b\na\n", ".agents/tasks/sort.md": task_text(
        "Sort", run="sort -o data/list.txt data/list.txt", inputs=["data/list.txt"], outputs=["data/list.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    assert agents("-C", str(project), "run").code == 0
    assert (project / "data/list.txt").read_text() == "a\nb\n"
    assert states(agents, project)["sort"]["state"] == "done"
    assert "Nothing to run" in agents("-C", str(project), "run").out


def test_foreach_steps_can_be_run_shown_and_logged_by_id(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"docs/a.md": "a\n", "docs/b.md": "b\n", ".agents/tasks/up.md": task_text(
        "Up", foreach="docs/*.md", run="tr a-z A-Z < {item} > out/{name}", inputs=["{item}"], outputs=["out/{name}"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "s")
    assert agents("-C", str(project), "run", "up@docs--a.md").code == 0
    assert (project / "out/a.md").exists() and not (project / "out/b.md").exists()
    shown = agents("-C", str(project), "show", "up@docs--a.md")
    assert shown.code == 0 and "up@docs--a.md  done" in shown.out
    family = agents("-C", str(project), "show", "up")
    assert family.code == 2 and "up@docs--a.md" in family.err
    assert [s["task"] for s in agents("-C", str(project), "log", "up", "--json").json["steps"]] == ["up@docs--a.md"]


def test_a_folder_is_an_output_only_with_its_slash(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (project / "out").mkdir()
    write_files(project, {".agents/tasks/t.md": task_text("T", run="true", outputs=["out"])})
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    assert [e["message"] for e in found] == [
        "output 'out' is a folder; an output is a file, a glob or a folder written with a trailing slash"]
    assert found[0]["hint"].startswith("write `out/` to let the step change every file under it")
    write_files(project, {".agents/tasks/t.md": task_text("T", run="true", outputs=["out/"])})
    assert agents("-C", str(project), "validate", "--json").json["errors"] == []


def test_definitions_outside_git_are_committed_first_in_a_commit_of_their_own(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(repo), "init").code == 0
    (repo / ".agents/tasks/describe-project.md").unlink()
    write_files(repo, {".agents/tasks/hi.md": task_text("Hi", run="echo hi > hi.txt", outputs=["hi.txt"])})
    result = agents("-C", str(repo), "run")  # nothing is committed yet, not even the config
    assert result.code == 0, result.err
    assert "note: committed the definitions this run uses" in result.err
    subjects = commits(repo)
    assert subjects == ["agents(hi): Hi", "agents: commit the definitions this run uses"]
    first = files_of(repo, "HEAD~1")
    assert ".agents/tasks/hi.md" in first and ".agents/config.yaml" in first
    handoff = (repo / ".agents/handoffs/hi.md").read_text()
    # The step's definition is reproducible from the commit before it.
    assert git(repo, "show", "HEAD~1:.agents/tasks/hi.md") == (repo / ".agents/tasks/hi.md").read_text()
    assert "definition: sha256:" in handoff
    # A later edit of the task is committed again before the run that uses it.
    path = repo / ".agents/tasks/hi.md"
    path.write_text(path.read_text().replace("echo hi", "echo hello"))
    assert agents("-C", str(repo), "run").code == 0
    assert commits(repo)[:2] == ["agents(hi): Hi", "agents: commit the definitions this run uses"]
    assert files_of(repo, "HEAD~1") == [".agents/tasks/hi.md"]


def test_definitions_outside_git_can_be_refused_instead(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    config = project / ".agents/config.yaml"
    config.write_text(config.read_text().replace("commit:\n  definitions: true", "commit:\n  definitions: false"))
    git(project, "commit", "-qam", "refuse")
    write_files(project, {".agents/tasks/hi.md": task_text("Hi", run="echo hi > hi.txt", outputs=["hi.txt"])})
    head = git(project, "rev-parse", "HEAD")
    result = agents("-C", str(project), "run")
    assert result.code == 2
    assert "error: the steps would run from definitions that are not committed: .agents/tasks/hi.md" in result.err
    assert "hint: commit them first" in result.err
    assert git(project, "rev-parse", "HEAD") == head


@pytest.mark.parametrize("dry_run", [True, False])
@pytest.mark.parametrize("change", ["a task added", "a foreach item removed"])
def test_tasks_changed_while_the_run_read_them_are_refused_clearly(  # type: ignore[no-untyped-def]
    project: Path, agents, monkeypatch: pytest.MonkeyPatch, dry_run: bool, change: str
) -> None:
    """A run checks the project's files, then reads the facts its plan comes from, then resolves each step, a
    moment apart: a task file added in between (a `git pull`, an editor), or a foreach item removed, is said
    so, with nothing run and nothing committed, and the next run goes ahead."""
    from agentfiles.storage import project as loading
    from agentfiles.storage import workspace

    write_files(project, {
        ".agents/tasks/each.md": task_text("Each", run="cp docs/{name} out/{stem}.txt", foreach="docs/*.md",
                                           inputs=["docs/{name}"], outputs=["out/{stem}.txt"]),
        "docs/a.md": "a\n",
        "docs/b.md": "b\n",
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    before = commits(project)
    if change == "a task added":  # after the project's files were checked, before the facts are read
        listing = loading.markdown_listing

        def checked(folder, *args, **kwargs):  # type: ignore[no-untyped-def]
            found = listing(folder, *args, **kwargs)
            if str(folder).endswith("tasks") and not (project / ".agents/tasks/late.md").exists():
                write_files(project, {".agents/tasks/late.md": task_text("Late", run="echo > late.txt",
                                                                          outputs=["late.txt"])})
            return found

        monkeypatch.setattr(loading, "markdown_listing", checked)
    else:  # after the facts were read, before the steps are resolved
        derive = workspace.derive_states

        def deriving(*args, **kwargs):  # type: ignore[no-untyped-def]
            if (project / "docs/b.md").exists():
                (project / "docs/b.md").unlink()
            return derive(*args, **kwargs)

        monkeypatch.setattr(workspace, "derive_states", deriving)
    result = agents("-C", str(project), "run", *(["--dry-run"] if dry_run else []))
    monkeypatch.undo()
    assert result.code == 2, result.err
    assert "changed while the run read them, before any step started" in result.err, result.err
    assert ("late: its task file appeared after the run checked the project" if change == "a task added"
            else "each@docs--b.md: its item is gone") in result.err, result.err
    assert "hint:" in result.err
    assert "unexpected" not in result.err and "Traceback" not in result.err
    assert commits(project) == before
    again = agents("-C", str(project), "run")
    assert again.code == 0, again.err


def test_a_foreach_item_removed_while_the_run_is_under_way_fails_that_step_only(  # type: ignore[no-untyped-def]
    project: Path, agents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed once the steps are running: its step cannot start and fails as a step does (`missing_input`,
    nothing of it lands, the run goes on), not the whole run."""
    from agentfiles.runner import step as stepping

    write_files(project, {
        ".agents/tasks/each.md": task_text("Each", run="cp docs/{name} out/{stem}.txt", foreach="docs/*.md",
                                           inputs=["docs/{name}"], outputs=["out/{stem}.txt"]),
        **{f"docs/{n}.md": f"{n}\n" for n in "abc"},
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    before = len(commits(project))
    resolve = stepping.resolve_step

    def resolving(project_, step_id):  # type: ignore[no-untyped-def]
        if step_id == "each@docs--c.md":  # as its turn comes, the file is gone (an editor, a pull)
            (project / "docs/c.md").unlink()
        return resolve(project_, step_id)

    monkeypatch.setattr(stepping, "resolve_step", resolving)
    result = agents("-C", str(project), "run", "--jobs", "1", "--keep-going")
    monkeypatch.undo()
    assert result.code == 1, result.err
    assert "each@docs--c.md" in result.err and "its item is gone" in result.err, result.err
    assert "changed while the run read them" not in result.err and "unexpected" not in result.err
    assert not (project / "out/c.txt").exists()
    assert len(commits(project)) > before  # what ran before landed
    # a step running as the file went (b) is failed by the tripwire (sandbox_escape): a removal it was not
    # told of, which it cannot tell from the step's own; that is the tripwire's rule, tested elsewhere


def test_a_task_file_removed_before_the_steps_start_is_not_committed_as_a_definition(  # type: ignore[no-untyped-def]
    project: Path, agents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Removed after the run read it, as the run commits the definitions its steps use: the run is refused
    (it would run a step whose definition it then committed away), nothing is committed, and the next run
    goes ahead without it."""
    from agentfiles.runner import reconcile

    write_files(project, {
        ".agents/tasks/one.md": task_text("One", run="echo 1 > one.txt", outputs=["one.txt"]),
        ".agents/tasks/other.md": task_text("Other", run="echo 2 > other.txt", outputs=["other.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    before = commits(project)
    commit_definitions = reconcile.commit_definitions

    def removed_meanwhile(workspace, git_, plan):  # type: ignore[no-untyped-def]
        (project / ".agents/tasks/other.md").unlink()
        return commit_definitions(workspace, git_, plan)

    monkeypatch.setattr(reconcile, "commit_definitions", removed_meanwhile)
    result = agents("-C", str(project), "run")
    monkeypatch.undo()
    assert result.code == 2, result.err
    assert ("changed while the run read them, before any step started: .agents/tasks/other.md is gone since the "
            "run read it") in result.err, result.err
    assert "hint:" in result.err and "unexpected" not in result.err
    assert commits(project) == before
    again = agents("-C", str(project), "run")
    assert again.code == 0, again.err
    assert (project / "one.txt").exists() and not (project / "other.txt").exists()
