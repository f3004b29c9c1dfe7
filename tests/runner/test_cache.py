"""The run cache: a step whose definition and input hashes equal those of an earlier successful run in the
history (a rewound branch, a reverted step, another branch) takes that run's outputs instead of running;
`--no-cache`, `--force` and `cache: false` run it afresh, and a run rejected in review is never served."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic
from test_review import step_replies


@pytest.fixture
def built(project: Path, api: FakeAnthropic, agents) -> Path:  # type: ignore[no-untyped-def]
    """design (a command) -> build (a model step), run once."""
    configure(project, api)
    write_files(project, {
        "goal.md": "A greeting tool.\n",
        ".agents/tasks/design.md": task_text("Design", run="echo \"$AGENTS_RUN\" > design.md", inputs=["goal.md"],
                                             outputs=["design.md"]),
        ".agents/tasks/build.md": task_text("Build", role="developer", needs=["design"],
                                            inputs=["design.md", {"handoff": "design"}], outputs=["src/app.py"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "pipeline")
    api.queue(*step_replies("src/app.py", "print('hi')\n", "BUILD-SUMMARY"))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    return project


def _handoff(root: Path, task: str) -> str:
    return (root / f".agents/handoffs/{task}.md").read_text()


def test_rewind_then_run_is_served_from_the_cache_and_no_cache_sends_it(built: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    first_design = (built / "design.md").read_text()
    first_run = agents("-C", str(built), "log", "build", "--json").json["steps"][0]["run"]
    sent = len(api.message_requests)
    assert agents("-C", str(built), "rewind", "design").code == 0
    result = agents("-C", str(built), "run")
    assert result.code == 0, result.err
    assert len(api.message_requests) == sent  # nothing was sent to the model
    assert "build in" in result.err and f"outputs of run {first_run} from the run cache" in result.err
    assert (built / "design.md").read_text() == first_design  # the command did not run again: same run id inside
    assert (built / "src/app.py").read_text() == "print('hi')\n"
    handoff = _handoff(built, "build")
    assert f"cached_from: {first_run}" in handoff and "BUILD-SUMMARY" in handoff
    assert git(built, "log", "-1", "--format=%s") == "agents(build): Build\n"  # it commits as usual
    states = {t["id"]: t["state"] for t in agents("-C", str(built), "status", "--json").json["tasks"]}
    assert states == {"design": "done", "build": "done"}

    assert agents("-C", str(built), "rewind", "build").code == 0
    api.queue(*step_replies("src/app.py", "print('fresh')\n", "FRESH"))
    result = agents("-C", str(built), "run", "--no-cache")
    assert result.code == 0, result.err
    assert len(api.message_requests) == sent + 2  # sent afresh
    assert "from the run cache" not in result.err
    assert (built / "src/app.py").read_text() == "print('fresh')\n" and "cached_from" not in _handoff(built, "build")


def test_a_revert_then_run_is_served_and_cache_false_runs_afresh(built: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    sent = len(api.message_requests)
    assert agents("-C", str(built), "rewind", "build", "--in-place").code == 0
    result = agents("-C", str(built), "--json", "run")
    assert result.code == 0, result.err
    assert result.json["outcomes"][0]["cached_from"] and len(api.message_requests) == sent

    assert agents("-C", str(built), "rewind", "build", "--in-place").code == 0
    config = built / ".agents/config.yaml"
    config.write_text(config.read_text().replace("cache: true", "cache: false"))
    git(built, "commit", "-qam", "no cache")
    api.queue(*step_replies("src/app.py", "print('hi')\n", "AGAIN"))
    result = agents("-C", str(built), "--json", "run")
    assert result.code == 0, result.err
    assert result.json["outcomes"][0]["cached_from"] is None and len(api.message_requests) == sent + 2


def test_a_run_rejected_in_review_is_never_served(built: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(built), "reject", "build", "--reason", "no").code == 0
    assert agents("-C", str(built), "rewind", "build", "--in-place").code == 0
    sent = len(api.message_requests)
    api.queue(*step_replies("src/app.py", "print('other')\n", "OTHER"))
    result = agents("-C", str(built), "run")
    assert result.code == 0, result.err
    assert len(api.message_requests) == sent + 2 and "from the run cache" not in result.err


def test_a_changed_input_misses_the_cache(built: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(built, {"goal.md": "A farewell tool.\n"})
    git(built, "commit", "-qam", "new goal")
    sent = len(api.message_requests)
    api.queue(*step_replies("src/app.py", "print('bye')\n", "BYE"))
    result = agents("-C", str(built), "run")
    assert result.code == 0, result.err
    assert "from the run cache" not in result.err and len(api.message_requests) == sent + 2
    # Back to the first goal: both steps are served from their first runs again.
    write_files(built, {"goal.md": "A greeting tool.\n"})
    git(built, "commit", "-qam", "old goal")
    result = agents("-C", str(built), "run")
    assert result.code == 0, result.err
    assert result.err.count("from the run cache") == 2 and (built / "src/app.py").read_text() == "print('hi')\n"


@pytest.mark.parametrize("where", ["task", "role"])
def test_cache_false_in_the_task_or_its_role_runs_it_afresh(built: Path, api: FakeAnthropic, agents, where: str) -> None:  # type: ignore[no-untyped-def]
    """`cache: false` in the step's task, or under `agents:` in its role, as in the config."""
    if where == "task":
        path = built / ".agents/tasks/build.md"
        path.write_text(path.read_text().replace("role: developer\n", "role: developer\ncache: false\n", 1))
    else:
        path = built / ".agents/roles/developer.md"
        path.write_text(path.read_text().replace("agents:\n", "agents:\n  cache: false\n", 1))
    git(built, "commit", "-qam", f"no cache for the {where}")
    assert agents("-C", str(built), "rewind", "build", "--in-place").code == 0
    sent = len(api.message_requests)
    api.queue(*step_replies("src/app.py", "print('hi')\n", "AGAIN"))
    result = agents("-C", str(built), "--json", "run")
    assert result.code == 0, result.err
    assert [(o["task"], o["cached_from"]) for o in result.json["outcomes"]] == [("build", None)]
    assert len(api.message_requests) == sent + 2 and "AGAIN" in _handoff(built, "build")


def test_an_approval_read_from_history_is_carried_on_only_when_a_handoff_may_hold_it() -> None:
    """A served step's handoff carries the approval behind its outputs; one from a hand-edited history that
    would not load again (a commit that is no sha, a run id with a slash) is dropped, not landed."""
    from agentfiles.runner.cache import _checked

    good = {"run": "20261202T120000Z-abc123", "commit": "a" * 40, "by": "A <a@example.invalid>", "at": "2026-12-02T12:00:00Z"}
    assert _checked(good) == good
    assert _checked({**good, "commit": "HEAD"}) is None and _checked({**good, "run": "../x"}) is None
    assert _checked({**good, "extra": 1}) is None and _checked("approved") is None and _checked(None) is None
