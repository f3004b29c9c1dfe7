"""History and review verbs as a newcomer meets them: a mistyped task id, `show --context` of a command
step, `log --usage` by role, `review` of a step that failed, `replay` of a step that failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, task_text, write_files


@pytest.fixture
def fruit(project: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    """A command step `fruit-report`, run once."""
    write_files(project, {
        "data/fruit.txt": "apple\npear\n",
        ".agents/tasks/fruit-report.md": task_text(
            "Count the fruit", run="wc -l < data/fruit.txt > out/count.txt", inputs=["data/fruit.txt"],
            outputs=["out/count.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "fruit")
    assert agents("-C", str(project), "run").code == 0
    return project


@pytest.mark.parametrize("args", [
    ["run", "fruit-reprot"], ["run", "--dry-run", "fruit-reprot"], ["status", "fruit-reprot"],
    ["show", "fruit-reprot"], ["log", "fruit-reprot"], ["replay", "fruit-reprot"], ["approve", "fruit-reprot"],
    ["reject", "fruit-reprot", "--reason", "x"], ["rewind", "fruit-reprot"], ["route", "fruit-reprot"],
])
def test_a_mistyped_task_id_gets_the_closest_one(fruit: Path, agents, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(fruit), *args)
    assert result.code == 2, result.err
    assert "error: unknown task: fruit-reprot (did you mean fruit-report?)" in result.err
    assert "hint: `agents status` lists the tasks" in result.err


def test_rewind_of_an_unknown_task_says_so(fruit: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(fruit), "rewind", "nosuch")
    assert result.code == 2 and "error: unknown task: nosuch\n" in result.err
    write_files(fruit, {".agents/tasks/later.md": task_text("Later", run="true", outputs=["l.txt"])})
    never = agents("-C", str(fruit), "rewind", "later")
    assert never.code == 2 and "has no step commit" in never.err


def test_show_context_of_a_command_step_shows_what_it_saw(fruit: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(fruit), "show", "fruit-report", "--context")
    assert result.code == 0, result.err
    text = result.out
    assert "command: wc -l < data/fruit.txt > out/count.txt" in text
    import hashlib

    digest = hashlib.sha256(b"apple\npear\n").hexdigest()
    assert f"  data/fruit.txt  sha256:{digest}" in text
    assert "outputs it may write: out/count.txt" in text
    assert "AGENTS_TASK" in text and "AGENTS_INPUTS" in text and "PATH" in text
    assert "isolation: " in text and "no network" in text
    data = agents("-C", str(fruit), "show", "fruit-report", "--context", "--json").json["command"]
    assert data["inputs"] == {"data/fruit.txt": f"sha256:{digest}"} and "AGENTS_RUN" in data["env"]
    assert data["isolation"]["network"] is False
    both = agents("-C", str(fruit), "show", "fruit-report", "--context", "--diff")
    assert both.code == 0 and "+++ b/out/count.txt" in both.out and "command: wc -l" in both.out


def test_log_columns_line_up_and_counts_say_step_or_steps(fruit: Path, agents) -> None:  # type: ignore[no-untyped-def]
    long_id = "a-task-id-much-longer-than-twenty-characters"
    write_files(fruit, {f".agents/tasks/{long_id}.md": task_text("Long", run="echo hi > out/long.txt",
                                                                   outputs=["out/long.txt"])})
    git(fruit, "add", "-A")
    git(fruit, "commit", "-qm", "long")
    assert agents("-C", str(fruit), "run").code == 0
    text = agents("-C", str(fruit), "log", "--usage").out
    rows = text.split("\n\n")[0].splitlines()
    assert len(rows) == 2 and rows[0].index(" tok ") == rows[1].index(" tok ")
    assert rows[0].index("none") == rows[1].index("none")
    assert "1 steps" not in text and " 1 step " in text and "total: 2 steps" in text


def test_review_of_a_failed_step_does_not_offer_approve(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/bad.md": task_text("Bad", run="exit 3", outputs=["x.txt"]),
        ".agents/tasks/good.md": task_text("Good", run="echo ok > y.txt", outputs=["y.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "two")
    assert agents("-C", str(project), "run", "--keep-going").code == 1
    text = agents("-C", str(project), "review").out
    bad, good = text.split("\n\n")[:2]
    assert bad.startswith("bad  failed") and good.startswith("good  done")
    assert "agents approve" not in bad and "`agents run bad` runs it again" in bad
    assert "`agents approve good`" in good
    assert "2 steps to review" in text and "step(s)" not in text


def test_replay_of_a_failed_step_that_fails_the_same_way_reproduces_it(project: Path, agents, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/flaky.md": task_text(
        "Flaky", run='test -n "$FLAG" || exit 3; echo ok > out.txt', outputs=["out.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "flaky")
    assert agents("-C", str(project), "run").code == 1
    same = agents("-C", str(project), "replay", "flaky")
    assert same.code == 0, same.err
    assert "the recorded run failed: crash: exit 3" in same.out and "failed the same way" in same.out
    monkeypatch.setenv("FLAG", "1")
    other = agents("-C", str(project), "replay", "flaky")
    assert other.code == 1
    assert "did not reproduce it: " in other.err and "the recorded run failed and the replay did not" in other.err
    assert "DIFFERS  out.txt  recorded (not written)" in other.out
    assert "see the differences above" not in other.err


def test_replay_gives_a_command_the_environment_its_step_had(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"notes/a b.md": "alpha\n", ".agents/tasks/env.md": task_text(
        "Env", run='"$AGENTS_PYTHON" -c "import os; print(os.environ[\'AGENTS_ITEM\'])" > "out/{stem}.txt"',
        foreach="notes/*.md", inputs=["{item}"], outputs=["out/{stem}.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "env")
    assert agents("-C", str(project), "run").code == 0
    assert (project / "out/a b.txt").read_text() == "notes/a b.md\n"
    step = next(t["id"] for t in agents("-C", str(project), "status", "--json").json["tasks"] if "@" in t["id"])
    replayed = agents("-C", str(project), "replay", step)
    assert replayed.code == 0, replayed.out + replayed.err


def test_replay_of_a_glob_step_that_creates_and_deletes_files_with_its_env(project: Path, agents, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The task's env: is given again from this environment (no value is recorded): set as it was, the replay
    reproduces the files the step created and deleted under its glob; unset, the replay says which is missing."""
    write_files(project, {"gen/old.txt": "old\n", ".agents/tasks/gen.md": task_text(
        "Gen", run='echo "$GREETING" > gen/new.txt && rm gen/old.txt', env=["GREETING"], outputs=["gen/"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "gen")
    monkeypatch.setenv("GREETING", "hello")
    assert agents("-C", str(project), "run").code == 0
    assert (project / "gen/new.txt").read_text() == "hello\n" and not (project / "gen/old.txt").exists()
    same = agents("-C", str(project), "replay", "gen")
    assert same.code == 0, same.out + same.err
    assert "same  gen/new.txt" in same.out and "same  gen/old.txt  recorded (deleted)  replayed (deleted)" in same.out
    monkeypatch.delenv("GREETING")
    other = agents("-C", str(project), "replay", "gen")
    assert other.code == 1 and "-hello\n+\n" in other.out
    assert "warning: variable GREETING of the task's env: set when the step ran and unset now" in other.err
    assert "did not reproduce it: gen/new.txt differs; variable GREETING set when it ran and unset now" in other.err
    assert agents("-C", str(project), "replay", "gen", "--json").json["env_missing"] == ["GREETING"]
