"""Review and time travel over a real three-step pipeline of model steps (against the local Messages API):
log with usage, show with context and diff, review / approve / reject, rewind, replay --live, run --branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply


def step_replies(path: str, content: str, summary: str, tokens: int = 100) -> list[Reply]:
    usage = {"input_tokens": tokens, "output_tokens": tokens // 10}
    return [Reply.tool_use("write_file", {"path": path, "content": content}, usage=usage),
            Reply.tool_use("finish", {"summary": summary}, usage=usage)]


@pytest.fixture
def pipeline(project: Path, api: FakeAnthropic, agents) -> Path:  # type: ignore[no-untyped-def]
    """design -> build -> docs, run once: three step commits."""
    configure(project, api)
    write_files(project, {
        "goal.md": "A greeting tool.\n",
        ".agents/tasks/design.md": task_text("Design", role="planner", inputs=["goal.md"], outputs=["design.md"]),
        ".agents/tasks/build.md": task_text("Build", role="developer", needs=["design"],
                                            inputs=["design.md", {"handoff": "design"}], outputs=["src/app.py"]),
        ".agents/tasks/docs.md": task_text("Docs", role="developer", needs=["build"],
                                           inputs=["src/app.py", {"handoff": "build"}], outputs=["README.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "pipeline")
    api.queue(*step_replies("design.md", "Greet by name.\n", "DESIGN-SUMMARY", 100),
              *step_replies("src/app.py", "print('hi')\n", "BUILD-SUMMARY", 200),
              *step_replies("README.txt", "Run app.py.\n", "DOCS-SUMMARY", 300))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    return project


def test_log_lists_the_three_steps_with_their_usage(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    data = agents("-C", str(pipeline), "log", "--json", "--usage").json
    steps = data["steps"]
    assert [s["task"] for s in steps] == ["docs", "build", "design"]
    assert [s["usage"]["input_tokens"] for s in steps] == [600, 400, 200]
    assert all(s["usage"]["cost_usd"] > 0 and s["role"] and s["model"] for s in steps)
    assert data["totals"]["all"]["input_tokens"] == 1200 and data["totals"]["all"]["steps"] == 3
    assert data["totals"]["by_role"]["developer"]["input_tokens"] == 1000
    text = agents("-C", str(pipeline), "log", "--usage").out
    assert "by model" in text and "total: 3 steps, 1200 in" in text


def test_show_prints_the_exact_context_and_the_diff_of_the_middle_step(pipeline: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    shown = agents("-C", str(pipeline), "show", "build", "--context").out
    sent = api.message_requests[2].body  # build's first request
    assert all(block["text"] in shown for block in sent["messages"][0]["content"])
    assert "DESIGN-SUMMARY" in shown and "Greet by name." in shown
    diff = agents("-C", str(pipeline), "show", "build", "--diff").out
    assert "+++ b/src/app.py" in diff and "+print('hi')" in diff


def test_reject_makes_the_task_stale_and_its_next_run_gets_the_reason(pipeline: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(pipeline), "reject", "build", "--reason", "R-REASON: greet in French")
    assert result.code == 0, result.err
    meta_text = (pipeline / ".agents/handoffs/build.md").read_text()
    assert "state: rejected" in meta_text and "R-REASON" in meta_text
    assert git(pipeline, "status", "--porcelain") == ""
    assert "Agents-Review: rejected" in git(pipeline, "log", "-1", "--format=%B")
    status = {t["id"]: t for t in agents("-C", str(pipeline), "status", "--json").json["tasks"]}
    assert status["build"]["state"] == "stale"
    assert "rejected in review: R-REASON: greet in French" in status["build"]["reasons"]
    assert [s["task"] for s in agents("-C", str(pipeline), "log", "--json").json["steps"]] == ["docs", "build", "design"]
    before = len(api.message_requests)
    api.queue(*step_replies("src/app.py", "print('salut')\n", "again"), *step_replies("README.txt", "x\n", "docs again"))
    assert agents("-C", str(pipeline), "run").code == 0
    again = api.message_requests[before].body["messages"][0]["content"][-1]["text"]
    assert "## Review of the previous run" in again and "R-REASON: greet in French" in again
    assert "review:" not in (pipeline / ".agents/handoffs/build.md").read_text()  # a new run awaits review


def test_review_lists_unreviewed_steps_and_approve_records_it(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    pending = agents("-C", str(pipeline), "review", "--json").json["steps"]
    assert [p["task"] for p in pending] == ["build", "design", "docs"]
    assert pending[0]["summary"] == "BUILD-SUMMARY" and "+print('hi')" in pending[0]["diff"]
    assert agents("-C", str(pipeline), "approve", "design").code == 0
    meta = (pipeline / ".agents/handoffs/design.md").read_text()
    assert "state: approved" in meta and "by: Test Author <author@example.invalid>" in meta
    assert [p["task"] for p in agents("-C", str(pipeline), "review", "--json").json["steps"]] == ["build", "docs"]
    states = {t["id"]: t["state"] for t in agents("-C", str(pipeline), "status", "--json").json["tasks"]}
    assert states == {"design": "done", "build": "done", "docs": "done"}  # approval changes no state
    text = agents("-C", str(pipeline), "review").out
    assert "BUILD-SUMMARY" in text and "2 steps to review" in text


def test_rewind_on_a_branch_leaves_main_alone_and_reruns_from_the_middle(pipeline: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    main = git(pipeline, "rev-parse", "main").strip()
    build_step = agents("-C", str(pipeline), "log", "build", "--json").json["steps"][0]["commit"]
    result = agents("-C", str(pipeline), "rewind", "build")
    assert result.code == 0, result.err
    assert git(pipeline, "rev-parse", "main").strip() == main
    assert git(pipeline, "branch", "--show-current").strip() == "agents/rewind/build-1"
    assert git(pipeline, "rev-parse", "HEAD").strip() == git(pipeline, "rev-parse", f"{build_step}^").strip()
    assert not (pipeline / "src/app.py").exists() and not (pipeline / "README.txt").exists()
    assert (pipeline / "design.md").read_text() == "Greet by name.\n"
    plan = agents("-C", str(pipeline), "run", "--dry-run", "--json").json
    assert [s["task"] for s in plan["plan"]] == ["build", "docs"]
    api.queue(*step_replies("src/app.py", "print('hey')\n", "b2"), *step_replies("README.txt", "y\n", "d2"))
    assert agents("-C", str(pipeline), "run").code == 0
    assert git(pipeline, "rev-parse", "main").strip() == main
    second = agents("-C", str(pipeline), "rewind", "build", "--json").json
    assert second["branch"] == "agents/rewind/build-2"


def test_rewind_in_place_reverts_the_step_and_what_depends_on_it(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(pipeline), "rewind", "build", "--in-place", "--json")
    assert result.code == 0, result.err
    assert [r["task"] for r in result.json["reverted"]] == ["docs", "build"]
    assert git(pipeline, "branch", "--show-current").strip() == "main"
    assert not (pipeline / "src/app.py").exists() and (pipeline / "design.md").is_file()
    states = {t["id"]: t["state"] for t in agents("-C", str(pipeline), "status", "--json").json["tasks"]}
    assert states["design"] == "done" and states["build"] == "ready" and states["docs"] == "pending"


def test_rewind_refuses_uncommitted_changes(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (pipeline / "goal.md").write_text("edited, not committed\n")
    head = git(pipeline, "rev-parse", "HEAD")
    result = agents("-C", str(pipeline), "rewind", "build")
    assert result.code == 2 and "uncommitted changes would be lost: goal.md" in result.err and "git stash" in result.err
    assert git(pipeline, "rev-parse", "HEAD") == head and (pipeline / "goal.md").read_text() == "edited, not committed\n"


def test_replay_live_asks_the_model_again_and_shows_the_difference(pipeline: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    first = api.message_requests[2].body
    api.queue(*step_replies("src/app.py", "print('hello there')\n", "live"))
    result = agents("-C", str(pipeline), "replay", "build", "--live")
    assert result.code == 1
    assert "-print('hi')" in result.out and "+print('hello there')" in result.out
    assert api.message_requests[-2].body == first  # the recorded context, byte for byte
    assert git(pipeline, "status", "--porcelain") == "" and (pipeline / "src/app.py").read_text() == "print('hi')\n"


def test_run_on_a_branch_keeps_main_as_it_was(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/one.md": task_text("One", run="echo 1 > one.txt", outputs=["one.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    main = git(project, "rev-parse", "main").strip()
    result = agents("-C", str(project), "run", "--branch", "agents/try-1")
    assert result.code == 0, result.err
    assert git(project, "branch", "--show-current").strip() == "agents/try-1"
    assert "created branch agents/try-1" in result.err
    assert git(project, "rev-parse", "main").strip() == main
    git(project, "switch", "-q", "main")
    preview = agents("-C", str(project), "run", "--branch", "agents/try-1", "--dry-run")
    assert "the run would first switch to agents/try-1" in preview.err
    assert "Agents-Task: one" in git(project, "log", "-1", "--format=%B", "agents/try-1")
    bad = agents("-C", str(project), "run", "--branch", "no..dots")
    assert bad.code == 2 and "not a valid branch name" in bad.err


def test_a_run_refused_before_it_starts_leaves_no_branch_behind(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """`--branch` with a run that is refused before any step starts: back on the branch it was started on,
    the branch it created gone, an existing branch where it was."""
    write_files(project, {".agents/tasks/one.md": task_text("One", run="cat in.txt > one.txt", inputs=["in.txt"],
                                                            outputs=["one.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    before = git(project, "rev-parse", "HEAD").strip()
    missing = agents("-C", str(project), "run", "--branch", "agents/try-1")
    assert missing.code == 1 and "declared input missing: in.txt" in missing.err and "Traceback" not in missing.err
    assert "created branch" not in missing.err
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "branch", "--list", "agents/try-1") == ""
    write_files(project, {"one.txt": "mine\n", "in.txt": "x\n"})  # an output changed by hand: refused too
    dirty = agents("-C", str(project), "run", "--branch", "agents/try-1")
    assert dirty.code == 2 and "hint:" in dirty.err
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "branch", "--list", "agents/try-1") == ""
    git(project, "branch", "agents/old", "HEAD")  # a branch that exists is switched to, and back
    (project / "one.txt").unlink()
    (project / "in.txt").unlink()
    assert agents("-C", str(project), "run", "--branch", "agents/old").code == 1
    assert git(project, "branch", "--show-current").strip() == "main"
    assert git(project, "rev-parse", "agents/old").strip() == before == git(project, "rev-parse", "HEAD").strip()
    assert git(project, "status", "--porcelain") == ""


def test_approve_refuses_a_failed_step_and_reject_needs_a_handoff(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/bad.md": task_text("Bad", run="exit 3", outputs=["x.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "bad")
    assert agents("-C", str(project), "run").code == 1
    refused = agents("-C", str(project), "approve", "bad")
    assert refused.code == 2 and "nothing to approve" in refused.err and "hint:" in refused.err
    missing = agents("-C", str(project), "reject", "nothing", "--reason", "x")
    assert missing.code == 2 and "unknown task: nothing" in missing.err
    write_files(project, {".agents/tasks/later.md": task_text("Later", run="true", outputs=["l.txt"])})
    not_run = agents("-C", str(project), "reject", "later", "--reason", "x")
    assert not_run.code == 2 and "has no handoff to review" in not_run.err
    data = json.loads(agents("-C", str(project), "log", "--json").out)
    assert data["steps"][0]["status"] == "failed"


def test_rewind_in_place_after_reviews_and_twice(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(pipeline), "approve", "docs").code == 0
    assert agents("-C", str(pipeline), "reject", "build", "--reason", "wrong").code == 0
    result = agents("-C", str(pipeline), "rewind", "build", "--in-place", "--json")
    assert result.code == 0, result.err
    assert [r["task"] for r in result.json["reverted"]] == ["build", "docs", "docs", "build"]  # reviews, then steps
    assert git(pipeline, "status", "--porcelain") == ""
    assert not (pipeline / ".agents/handoffs/build.md").exists() and not (pipeline / "src/app.py").exists()
    steps = agents("-C", str(pipeline), "log", "--json").json["steps"]
    assert [(s["task"], s["reverted"]) for s in steps] == [("docs", True), ("build", True), ("design", False)]
    assert "reverted" in agents("-C", str(pipeline), "log").out
    again = agents("-C", str(pipeline), "rewind", "build", "--in-place")
    assert again.code == 2 and "none that was not reverted" in again.err


def test_approving_twice_is_refused_and_rejecting_again_says_what_it_replaces(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(pipeline), "approve", "build").code == 0
    twice = agents("-C", str(pipeline), "approve", "build")
    assert twice.code == 2 and "already approved" in twice.err
    replaced = agents("-C", str(pipeline), "reject", "build", "--reason", "second thoughts")
    assert replaced.code == 0 and "replaces the earlier review (approved by Test Author" in replaced.err


def test_show_context_and_diff_together_and_diffs_mark_a_missing_newline(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    both = agents("-C", str(pipeline), "show", "build", "--diff", "--context").out
    assert "+print('hi')" in both and "===== system 1" in both
    from agentfiles.core.context import unified_diff

    assert unified_diff("a", "b", "x", "y").endswith("-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n")


def test_log_of_an_unknown_task_is_an_error(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(pipeline), "log", "nosuch")
    assert result.code == 2 and "unknown task: nosuch" in result.err


def test_a_command_step_rejected_in_review_gets_the_reason_in_its_environment(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/one.md": task_text("One", run='printf "%s" "$AGENTS_REVIEW_REASON" > one.txt',
                                                            outputs=["one.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    assert agents("-C", str(project), "run").code == 0
    assert (project / "one.txt").read_text() == ""
    assert agents("-C", str(project), "reject", "one", "--reason", "say why").code == 0
    assert agents("-C", str(project), "run").code == 0
    assert (project / "one.txt").read_text() == "say why"


def test_rewind_in_place_of_a_rerun_that_changed_nothing_says_where_to_look(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-16 verification: reverting a step re-run with nothing changed brings back the earlier run
    (done), yet rewind said "`agents run` runs them again" and the run then found nothing to do."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo t > t.txt", outputs=["t.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "t")
    assert agents("-C", str(project), "run").code == 0
    assert agents("-C", str(project), "run", "--force").code == 0
    rewound = agents("-C", str(project), "rewind", "t", "--in-place")
    assert rewound.code == 0 and "`agents status` shows which are to run again" in rewound.out
    assert "runs them again" not in rewound.out
    assert agents("-C", str(project), "status", "--json").json["tasks"][0]["state"] == "done"


def test_show_says_how_a_step_was_reviewed_by_whom_and_when(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-17 verification: `show` printed no review, approved or rejected; only `status` told of a rejection."""
    unreviewed = agents("-C", str(pipeline), "show", "docs")
    assert "review: none yet (`agents approve docs` or `agents reject docs --reason TEXT`)" in unreviewed.out
    assert agents("-C", str(pipeline), "show", "docs", "--json").json["review"] is None
    assert agents("-C", str(pipeline), "approve", "design").code == 0
    assert agents("-C", str(pipeline), "reject", "build", "--reason", "R-REASON: greet in French").code == 0
    approved = agents("-C", str(pipeline), "show", "design").out
    line = next(line for line in approved.splitlines() if line.startswith("review:"))
    assert line.startswith("review: approved by Test Author <author@example.invalid> at 20"), line
    rejected = agents("-C", str(pipeline), "show", "build").out
    line = next(line for line in rejected.splitlines() if line.startswith("review:"))
    assert line.startswith("review: rejected by Test Author <author@example.invalid> at 20"), line
    assert line.endswith(": R-REASON: greet in French"), line
    data = agents("-C", str(pipeline), "show", "build", "--json").json
    assert data["review"]["state"] == "rejected" and data["review"]["reason"] == "R-REASON: greet in French"
    assert data["review"]["by"] == "Test Author <author@example.invalid>" and data["review"]["at"]
    assert data["review"]["commit"] == git(pipeline, "rev-parse", "HEAD").strip()
    # An earlier run, by its id, says how it was reviewed too: its step commit's handoff had no review yet.
    run = data["handoff"]["run"]
    by_run = agents("-C", str(pipeline), "show", "build", "--run", run, "--json").json
    assert by_run["review"]["state"] == "rejected" and by_run["handoff"]["review"]["state"] == "rejected"
    assert "review: rejected by" in agents("-C", str(pipeline), "show", "build", "--run", run).out
