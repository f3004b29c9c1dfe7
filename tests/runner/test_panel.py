"""Verifier panels: several roles judge a step, each in its own clean context, over real HTTP against the
local Messages API (tests/fake_anthropic.py); a split panel leaves the step `uncertain` until a person
approves (its outputs land then) or rejects it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply

CRITERIA = ["Greets the user by name", "Prints exactly one line"]
QA_ROLE = ("---\nname: qa\ndescription: A second judge, on another model.\nmodel: haiku\n---\n"
           "You are QA. You judge other people's work against its criteria.\n")


def write(content: str = "print('hello')\n") -> Reply:
    return Reply.tool_use("write_file", {"path": "src/hello.py", "content": content})


def finish(summary: str = "Wrote src/hello.py.") -> Reply:
    return Reply.tool_use("finish", {"summary": summary})


def verdict(*verdicts: tuple[str, str], usage: dict[str, int] | None = None) -> Reply:
    checks = [{"criterion": str(n), "verdict": v, "evidence": e} for n, (v, e) in enumerate(verdicts, 1)]
    return Reply.tool_use("verdict", {"checks": checks}, usage=usage)


def by_judge(answers: dict[str, Reply]):  # type: ignore[no-untyped-def]
    """One reply for whichever judge asks: judges run at once, so the order of their requests is not fixed."""

    def answer(request: RecordedRequest) -> Reply:
        system = request.body["system"][0]["text"]
        return next(reply for marker, reply in answers.items() if marker in system)

    return answer


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tasks")


def handoff(root: Path, task: str = "hello") -> dict:  # type: ignore[type-arg]
    from agentfiles.storage.documents import parse_document

    return parse_document((root / f".agents/handoffs/{task}.md").read_text()).meta


@pytest.fixture
def panel(project: Path, api: FakeAnthropic) -> Path:
    """A model step judged by a panel of two roles on different models."""
    configure(project, api)
    write_files(project, {
        ".agents/roles/qa.md": QA_ROLE,
        "data/spec.md": "Write a program that greets the user by name.\n",
        ".agents/tasks/hello.md": task_text(
            "Write hello", role="developer", inputs=["data/spec.md"], outputs=["src/hello.py"],
            acceptance=CRITERIA, verifier=["reviewer", "qa"], retries=1, body="## Intent\n\nA greeting program.\n",
        ),
    })
    commit_all(project)
    return project


def test_a_split_panel_leaves_the_step_uncertain_until_a_person_approves(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    judges = by_judge({
        "You are a reviewer": verdict(("pass", "REVIEWER-EVIDENCE asks for the name"), ("pass", "one print"),
                                      usage={"input_tokens": 11, "output_tokens": 3}),
        "You are QA": verdict(("fail", "QA-EVIDENCE never reads a name"), ("pass", "one line"),
                              usage={"input_tokens": 5, "output_tokens": 2}),
    })
    api.queue(write(), finish(), judges, judges)
    before = git(panel, "rev-parse", "HEAD").strip()
    result = agents("-C", str(panel), "run")
    assert result.code == 1, result.err
    assert "step hello uncertain" in result.err and "agents approve hello" in result.err
    assert len(api.message_requests) == 4  # no retry: a split panel is for a person, not another attempt
    # Each judge in its own clean context: its own system prompt and model, the same brief, no doer transcript.
    judged = api.message_requests[2:]
    assert {r.body["model"] for r in judged} == {"claude-sonnet-4-6", "claude-haiku-4-5"}
    for request in judged:
        assert len(request.body["messages"]) == 1 and "write_file" not in json.dumps(request.body)
    # Nothing landed: the output is only proposed, in the run record; the handoff says uncertain.
    assert not (panel / "src/hello.py").exists()
    assert git(panel, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    meta = handoff(panel)
    assert meta["status"] == "uncertain" and meta["failure"]["kind"] == "uncertain"
    assert meta["verification"]["verdict"] == "uncertain" and meta["verification"]["agree"] == "all"
    assert [c["verdict"] for c in meta["verification"]["checks"]] == ["uncertain", "pass"]
    assert {j["verifier"]: j["verdict"] for j in meta["verification"]["panel"]} == {"reviewer": "pass", "qa": "fail"}
    status = agents("-C", str(panel), "status").out
    assert "uncertain" in status and "the verifiers disagree" in status and "awaiting review" in status
    # A new `agents run` leaves it alone: it awaits a person.
    again = agents("-C", str(panel), "run")
    assert again.code == 0 and "held  hello: uncertain: awaiting review" in again.err and len(api.message_requests) == 4
    # The review shows both judges' evidence, side by side, and the proposed diff.
    review = agents("-C", str(panel), "review")
    assert review.code == 0
    assert "REVIEWER-EVIDENCE" in review.out and "QA-EVIDENCE" in review.out
    row = next(line for line in review.out.splitlines() if "REVIEWER-EVIDENCE" in line)
    assert "QA-EVIDENCE" in row  # one line, two columns
    assert "reviewer (claude-sonnet-4-6)" in review.out and "qa (claude-haiku-4-5)" in review.out
    assert "+print('hello')" in review.out and "agents approve hello" in review.out
    # Usage counted per judge, for the judge's own role and model.
    totals = agents("-C", str(panel), "log", "--usage", "--json").json["totals"]
    assert totals["by_role"]["qa"]["input_tokens"] == 5 and totals["by_role"]["reviewer"]["input_tokens"] == 11
    assert totals["by_model"]["claude-haiku-4-5"]["output_tokens"] == 2
    # Approving lands the proposed output with the approval, in one commit.
    approved = agents("-C", str(panel), "approve", "hello")
    assert approved.code == 0, approved.err
    assert (panel / "src/hello.py").read_text() == "print('hello')\n"
    assert set(git(panel, "show", "--name-only", "--format=", "HEAD").split()) == {
        ".agents/handoffs/hello.md", "src/hello.py"}
    assert git(panel, "status", "--porcelain") == ""
    meta = handoff(panel)
    assert meta["status"] == "done" and meta["review"]["state"] == "approved" and "failure" not in meta
    row = next(t for t in agents("-C", str(panel), "status", "--json").json["tasks"] if t["id"] == "hello")
    assert row["state"] == "done", row


def test_a_rejected_uncertain_step_runs_again_with_the_reason(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    judges = by_judge({"You are a reviewer": verdict(("pass", "ok"), ("pass", "ok")),
                       "You are QA": verdict(("fail", "no name"), ("pass", "ok"))})
    api.queue(write(), finish(), judges, judges)
    assert agents("-C", str(panel), "run").code == 1
    assert agents("-C", str(panel), "reject", "hello", "--reason", "READ-THE-NAME-FROM-INPUT").code == 0
    row = next(t for t in agents("-C", str(panel), "status", "--json").json["tasks"] if t["id"] == "hello")
    assert row["state"] == "rejected" and "READ-THE-NAME-FROM-INPUT" in row["reasons"][0]
    agreed = by_judge({"You are a reviewer": verdict(("pass", "asks"), ("pass", "one")),
                       "You are QA": verdict(("pass", "asks"), ("pass", "one"))})
    api.queue(write("print('hi', input())\n"), finish(), agreed, agreed)
    result = agents("-C", str(panel), "run")
    assert result.code == 0, result.err
    assert "READ-THE-NAME-FROM-INPUT" in json.dumps(api.message_requests[4].body)
    assert (panel / "src/hello.py").read_text() == "print('hi', input())\n"
    assert handoff(panel)["verification"]["verdict"] == "pass"


def test_a_panel_that_agrees_on_a_failure_retries_with_both_judges_evidence(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    failing = by_judge({"You are a reviewer": verdict(("fail", "REVIEWER-NO-NAME"), ("pass", "ok")),
                        "You are QA": verdict(("fail", "QA-NO-NAME"), ("pass", "ok"))})
    passing = by_judge({"You are a reviewer": verdict(("pass", "asks"), ("pass", "ok")),
                        "You are QA": verdict(("pass", "asks"), ("pass", "ok"))})
    api.queue(write(), finish(), failing, failing, write("v2\n"), finish(), passing, passing)
    result = agents("-C", str(panel), "run")
    assert result.code == 0, result.err
    retry = json.dumps(api.message_requests[4].body)
    assert "REVIEWER-NO-NAME" in retry and "QA-NO-NAME" in retry
    assert (panel / "src/hello.py").read_text() == "v2\n"


def test_a_majority_of_three_decides_and_a_two_judge_majority_is_flagged(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {
        ".agents/roles/qa.md": QA_ROLE,
        ".agents/roles/third.md": "---\nname: third\ndescription: A third judge.\n---\nYou are the third judge.\n",
        ".agents/tasks/hello.md": task_text(
            "Write hello", role="developer", outputs=["src/hello.py"], acceptance=CRITERIA[:1],
            verifier=["reviewer", "qa", "third"], agree="majority",
        ),
        ".agents/tasks/pair.md": task_text("Pair", role="developer", outputs=["b.txt"], acceptance=["Fine"],
                                           verifier=["reviewer", "qa"], agree="majority"),
        ".agents/tasks/twice.md": task_text("Twice", role="developer", outputs=["c.txt"], acceptance=["Fine"],
                                            verifier=["reviewer", "reviewer"]),
    })
    checked = agents("-C", str(project), "validate")
    assert "a panel of two has no majority" in checked.err and "names reviewer more than once" in checked.err
    (project / ".agents/tasks/pair.md").unlink()
    (project / ".agents/tasks/twice.md").unlink()
    commit_all(project)
    judges = by_judge({"You are a reviewer": verdict(("pass", "yes")), "You are QA": verdict(("fail", "no")),
                       "You are the third judge": verdict(("pass", "yes"))})
    api.queue(write(), finish(), judges, judges, judges)
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    meta = handoff(project)
    assert meta["status"] == "done" and meta["verification"]["agree"] == "majority"
    assert meta["verification"]["checks"][0]["verdict"] == "pass"
    assert "qa: fail - no" in meta["verification"]["checks"][0]["evidence"]


def test_approving_lands_only_what_the_record_holds_as_produced(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    judges = by_judge({"You are a reviewer": verdict(("pass", "ok"), ("pass", "ok")),
                       "You are QA": verdict(("fail", "no name"), ("pass", "ok"))})
    api.queue(write(), finish(), judges, judges)
    assert agents("-C", str(panel), "run").code == 1
    run = handoff(panel)["run"]
    folder = panel / ".agents/runs" / run
    proposed = folder / "proposed/src/hello.py"
    proposed.write_text("import os; os.system('rm -rf ~')\n")  # changed after the run: refused
    git(panel, "commit", "-qam", "tamper")
    refused = agents("-C", str(panel), "approve", "hello")
    assert refused.code == 2 and "does not hold its proposed src/hello.py as it was produced" in refused.err
    assert not (panel / "src/hello.py").exists()
    record = json.loads((folder / "record.json").read_text())
    record["outputs"] = {".agents/config.yaml": record["outputs"]["src/hello.py"]}  # an output it never declared
    (folder / "record.json").write_text(json.dumps(record))
    git(panel, "commit", "-qam", "tamper more")
    refused = agents("-C", str(panel), "approve", "hello")
    assert refused.code == 2 and "not an output it declares" in refused.err
    record["samples"] = ["not an object"]
    (folder / "record.json").write_text(json.dumps(record))
    damaged = agents("-C", str(panel), "review")
    assert damaged.code == 2 and "the run record is damaged" in damaged.err
    assert git(panel, "status", "--porcelain").strip() == f"M .agents/runs/{run}/record.json"


def test_an_uncertain_panel_run_holds_what_needs_it_and_replays_as_identical(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(panel, {".agents/tasks/after.md": task_text(
        "Use hello", role="developer", needs=["hello"], inputs=["src/hello.py"], outputs=["src/after.py"])})
    commit_all(panel)
    judges = by_judge({"You are a reviewer": verdict(("pass", "ok"), ("pass", "ok")),
                       "You are QA": verdict(("fail", "no name"), ("pass", "ok"))})
    api.queue(write(), finish(), judges, judges)
    result = agents("-C", str(panel), "run")
    assert result.code == 1
    assert "skip  after: needs hello, which is uncertain" in result.err
    dry = agents("-C", str(panel), "run", "--dry-run")
    assert dry.code == 0 and "every task is done" not in dry.out
    assert dry.out.startswith("Nothing to run.") and "held  hello: uncertain: awaiting review" in dry.err
    # The doer's work replays as it was recorded: the panel's split is a judgement made after it, as a
    # verifier's rejection is, and a replay carries out the work, not the judgement.
    replayed = agents("-C", str(panel), "replay", "hello")
    assert replayed.code == 0, replayed.out + replayed.err
    assert "same  src/hello.py" in replayed.out and "outputs identical" in replayed.out
    assert agents("-C", str(panel), "replay", "hello", "--json").json["identical"] is True


def test_an_approved_uncertain_step_shows_what_its_approval_landed(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    judges = by_judge({"You are a reviewer": verdict(("pass", "ok"), ("pass", "ok")),
                       "You are QA": verdict(("fail", "no name"), ("pass", "ok"))})
    api.queue(write(), finish(), judges, judges)
    assert agents("-C", str(panel), "run").code == 1
    run = handoff(panel)["run"]
    step = git(panel, "rev-parse", "HEAD").strip()
    assert agents("-C", str(panel), "approve", "hello").code == 0
    approval = git(panel, "rev-parse", "HEAD").strip()
    # The run's own commit landed nothing; the approval landed src/hello.py, and its diff is the step's.
    shown = agents("-C", str(panel), "show", "hello", "--diff")
    assert shown.code == 0, shown.err
    assert "+print('hello')" in shown.out and "changed no output" not in shown.out and "not applied" not in shown.out
    by_run = agents("-C", str(panel), "show", "hello", "--run", run, "--diff", "--json").json
    assert by_run["commit"] == step and by_run["landed_by"] == approval and "+print('hello')" in by_run["diff"]
    facts = agents("-C", str(panel), "show", "hello").out
    assert f"commit {step[:10]}" in facts and f"outputs landed by approval {approval[:10]}" in facts
    # The log's line for the step says what it is now: done, its outputs landed by the approval.
    (listed,) = agents("-C", str(panel), "log", "--json").json["steps"]
    assert listed["commit"] == step and listed["status"] == "done" and listed["landed_by"] == approval
    line = agents("-C", str(panel), "log").out.strip()
    assert line.startswith(step[:10]) and " done " in line and "uncertain" not in line
    # The report's run page shows the outputs as landed, not as a proposal.
    assert agents("-C", str(panel), "report", "--out", "site").code == 0
    (page,) = (panel / "site/runs/hello").glob("*.html")
    html = page.read_text()
    assert "not applied" not in html and "+print(&#x27;hello&#x27;)" in html, html
    assert approval[:10] in html
    # A live replay whose doer now writes something else diffs against what landed.
    api.queue(write("print('hi', input())\n"), finish())
    live = agents("-C", str(panel), "replay", "hello", "--live")
    assert live.code == 1, live.out + live.err
    assert "-print('hello')" in live.out and "+print('hi', input())" in live.out


def test_an_uncertain_run_whose_last_answer_was_deleted_is_a_damaged_record(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    judges = by_judge({"You are a reviewer": verdict(("pass", "ok"), ("pass", "ok")),
                       "You are QA": verdict(("fail", "no name"), ("pass", "ok"))})
    api.queue(write(), finish(), judges, judges)
    assert agents("-C", str(panel), "run").code == 1
    run = handoff(panel)["run"]
    # The doer finished: every request of an uncertain (or rejected) run has its answer. One deleted by
    # hand is a damaged record (exit 2), not a replay that did not reproduce the run.
    (panel / f".agents/runs/{run}/responses/002.json").unlink()
    damaged = agents("-C", str(panel), "replay", "hello")
    assert damaged.code == 2, damaged.out + damaged.err
    assert "the record is damaged: it holds 2 model requests and 1 answer" in damaged.err
    assert "did not reproduce" not in damaged.err + damaged.out


def split_judges():  # type: ignore[no-untyped-def]
    return by_judge({"You are a reviewer": verdict(("pass", "ok"), ("pass", "ok")),
                     "You are QA": verdict(("fail", "no name"), ("pass", "ok"))})


def approved_split_run(panel: Path, api: FakeAnthropic, agents) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Run the step with a split panel (uncertain), then approve it: its run id and the approval commit."""
    judges = split_judges()
    api.queue(write(), finish(), judges, judges)
    assert agents("-C", str(panel), "run").code == 1
    run = handoff(panel)["run"]
    assert agents("-C", str(panel), "approve", "hello").code == 0
    return run, git(panel, "rev-parse", "HEAD").strip()


def test_show_of_an_approved_then_rejected_run_says_it_is_rejected_now(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-17 verification: after approve then reject, `show --run RUN` showed the approval's handoff
    (`review: approved`) while the task's handoff said rejected."""
    judges = split_judges()
    run, approval = approved_split_run(panel, api, agents)
    assert agents("-C", str(panel), "reject", "hello", "--reason", "SECOND-THOUGHTS").code == 0
    rejection = git(panel, "rev-parse", "HEAD").strip()
    for args in (["show", "hello"], ["show", "hello", "--run", run]):
        data = agents("-C", str(panel), *args, "--json").json
        assert data["review"]["state"] == "rejected" and data["review"]["commit"] == rejection, args
        assert data["handoff"]["review"]["state"] == "rejected", args
        assert [(r["state"], r["commit"]) for r in data["reviews"]] == [("approved", approval), ("rejected", rejection)]
        assert data["landed_by"] == approval  # what the approval landed stays landed: a rejection removes nothing
        text = agents("-C", str(panel), *args).out
        lines = [line for line in text.splitlines() if line.startswith(("review:", "  earlier:"))]
        assert lines[0].startswith("review: rejected by Test Author") and lines[0].endswith(": SECOND-THOUGHTS"), text
        assert lines[1].startswith("  earlier: approved by Test Author") and approval[:10] in lines[1], text
        assert "review: approved" not in text
    status = next(t for t in agents("-C", str(panel), "status", "--json").json["tasks"] if t["id"] == "hello")
    assert "rejected in review: SECOND-THOUGHTS" in status["reasons"]
    # The rejection withdrew the approval: the run cache does not serve the run.
    assert agents("-C", str(panel), "rewind", "hello", "--in-place").code == 0
    api.queue(write(), finish(), judges, judges)
    again = agents("-C", str(panel), "run")
    assert again.code == 1 and "from the run cache" not in again.err and len(api.message_requests) == 8


def test_an_approved_uncertain_run_is_served_from_the_run_cache_naming_its_approval(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-17 verification: after a rewind, an approved uncertain step ran again from scratch while a
    done step was taken from the run cache. A person approved these outputs for exactly this definition and
    these inputs: the cache serves them, naming the run and the approval; a later rejection withdraws them."""
    judges = split_judges()
    run, approval = approved_split_run(panel, api, agents)
    assert agents("-C", str(panel), "rewind", "hello", "--in-place").code == 0
    assert not (panel / "src/hello.py").exists()
    sent = len(api.message_requests)
    result = agents("-C", str(panel), "run", "--json")
    assert result.code == 0, result.err
    assert len(api.message_requests) == sent  # no doer, no judge
    (outcome,) = result.json["outcomes"]
    assert outcome["status"] == "done" and outcome["cached_from"] == run and outcome["cached_approval"] == approval
    assert (panel / "src/hello.py").read_text() == "print('hello')\n"
    meta = handoff(panel)
    assert meta["status"] == "done" and meta["cached_from"] == run and "review" not in meta
    assert meta["cached_approval"]["commit"] == approval and meta["cached_approval"]["by"].startswith("Test Author")
    record = json.loads((panel / f".agents/runs/{meta['run']}/record.json").read_text())
    assert record["cached_from"]["run"] == run and record["cached_from"]["approval"]["commit"] == approval
    shown = agents("-C", str(panel), "show", "hello").out
    assert f"outputs of run {run} from the run cache, approved by Test Author" in shown and approval[:10] in shown
    # Served again, from that served run: the approval behind its outputs goes with them.
    served = meta["run"]
    assert agents("-C", str(panel), "rewind", "hello", "--in-place").code == 0
    text = agents("-C", str(panel), "run")
    assert text.code == 0 and len(api.message_requests) == sent, text.err
    assert f"outputs of run {served} from the run cache, approved by Test Author" in text.err
    assert handoff(panel)["cached_approval"]["commit"] == approval
    # A person rejects the served outputs: they are never served again.
    assert agents("-C", str(panel), "reject", "hello", "--reason", "NOT-AFTER-ALL").code == 0
    assert agents("-C", str(panel), "rewind", "hello", "--in-place").code == 0
    api.queue(write(), finish(), judges, judges)
    fresh = agents("-C", str(panel), "run")
    assert fresh.code == 1 and "from the run cache" not in fresh.err and len(api.message_requests) == sent + 4


def test_rejecting_an_approved_run_withdraws_it_from_the_copies_the_cache_served(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-17 verification of the run cache: run A approved, served as run B on a rewind branch; back on
    the first branch A is rejected and the step rewound. B still carried A's approval, and the cache served
    it: the rejected outputs landed, `approved by` a withdrawn approval."""
    judges = split_judges()
    run, _approval = approved_split_run(panel, api, agents)
    assert agents("-C", str(panel), "rewind", "hello").code == 0  # onto a branch of its own
    sent = len(api.message_requests)
    served = agents("-C", str(panel), "run", "--json")
    assert served.code == 0 and served.json["outcomes"][0]["cached_from"] == run and len(api.message_requests) == sent
    git(panel, "checkout", "-q", "-")
    assert agents("-C", str(panel), "reject", "hello", "--reason", "WITHDRAWN").code == 0
    assert agents("-C", str(panel), "rewind", "hello", "--in-place").code == 0
    api.queue(write(), finish(), judges, judges)
    fresh = agents("-C", str(panel), "run")
    assert "from the run cache" not in fresh.err, fresh.err
    assert fresh.code == 1 and len(api.message_requests) == sent + 4


def test_a_served_approved_run_says_so_and_show_says_when_it_is_rejected(panel: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-17 leftovers: a step served an approved uncertain run's outputs kept that run's `Uncertain: ...`
    summary while its status is done; after a rejection `show`'s header still said `done`; `show --json`'s
    `review` had no `reason` key when there was none."""
    run, approval = approved_split_run(panel, api, agents)
    approved = agents("-C", str(panel), "show", "hello", "--json").json["review"]
    assert approved["state"] == "approved" and approved["reason"] is None and approved["commit"] == approval
    assert agents("-C", str(panel), "rewind", "hello", "--in-place").code == 0
    assert agents("-C", str(panel), "run").code == 0
    body = (panel / ".agents/handoffs/hello.md").read_text().split("\n---\n", 1)[1]
    summary = body.split("## Summary", 1)[1].split("\n## ", 1)[0].strip()
    assert not summary.startswith("Uncertain"), summary
    assert summary.startswith(f"Approved by Test Author <author@example.invalid> (run {run}) where its verifiers "
                              "were uncertain: the verifiers disagree"), summary
    assert "Wrote src/hello.py." in summary
    pending = agents("-C", str(panel), "review", "--json").json["steps"]
    assert pending[0]["summary"] == summary
    shown = agents("-C", str(panel), "show", "hello").out
    assert shown.splitlines()[0].startswith("hello  done  run ")
    assert agents("-C", str(panel), "reject", "hello", "--reason", "NOPE").code == 0
    shown = agents("-C", str(panel), "show", "hello").out
    assert shown.splitlines()[0].startswith("hello  done, rejected in review  run "), shown
    data = agents("-C", str(panel), "show", "hello", "--json").json
    assert data["handoff"]["status"] == "done" and data["review"]["state"] == "rejected"
    assert data["review"]["reason"] == "NOPE"
