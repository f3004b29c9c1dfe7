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
